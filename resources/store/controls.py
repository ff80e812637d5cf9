"""Controls (key → value set by an operator: the kill switch, connector back-offs) and the
named locks runs hold while they write memory or drain deliveries."""

import contextlib
import threading
import time
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from resources.store import schema as t
from resources.store.base import Row, StoreBase, insert, now_iso
from resources.store.states import RESTING

# How long a lock holds without renewal: a holder that died where `is_stale` cannot see it
# (another host) blocks the lock for at most this long. Holders that may run longer renew.
LOCK_TTL_S = 3600.0
# How often a writer waiting for a held lock asks again.
LOCK_POLL_S = 0.5


class Controls(StoreBase):
    def set_control(self, key: str, value: str, *, actor: str) -> None:
        c = t.controls
        with self.tx() as conn:
            stamp = now_iso()
            upsert = insert(conn, c).values(key=key, value=value, actor=actor, at=stamp)
            conn.execute(
                upsert.on_conflict_do_update(
                    index_elements=["key"], set_={"value": value, "actor": actor, "at": stamp}
                )
            )
            self._audit(conn, None, actor, f"control_{key}", {"value": value})

    def control(self, key: str) -> Row | None:
        rows = self._all(t.controls.select().where(t.controls.c.key == key))
        return rows[0] if rows else None

    def kill_switch_on(self) -> bool:
        row = self.control("kill_switch")
        return bool(row and row["value"] == "on")

    def in_flight_count(self) -> int:
        query = sa.select(sa.func.count()).where(t.work_items.c.state.notin_(RESTING))
        with self.read() as conn:
            return int(conn.execute(query).scalar_one())

    def acquire_lock(
        self,
        name: str,
        owner: str,
        is_stale: Callable[[str], bool],
        *,
        ttl_s: float = LOCK_TTL_S,
    ) -> bool:
        """Take a named lock unless a live owner holds it: free, already this owner's (then
        renewed), expired, or held by an owner `is_stale(owner)` says is dead.

        Compare-and-set only: an INSERT that does nothing on conflict, or an UPDATE whose
        WHERE names the holder and expiry seen; the row count says who won.
        """
        lk = t.locks
        with self.tx() as conn:
            for _attempt in range(3):  # again only if the holder changed under us
                now = time.time()
                values = {"owner": owner, "expires_at": now + ttl_s, "acquired_at": now_iso()}
                taken = conn.execute(
                    insert(conn, lk)
                    .values(name=name, **values)
                    .on_conflict_do_nothing(index_elements=["name"])
                )
                if taken.rowcount == 1:
                    return True
                held = conn.execute(
                    sa.select(lk.c.owner, lk.c.expires_at).where(lk.c.name == name)
                ).first()
                if held is None:  # released meanwhile
                    continue
                if held.owner != owner and held.expires_at >= now and not is_stale(held.owner):
                    return False
                taken = conn.execute(
                    lk.update()
                    .where(
                        lk.c.name == name,
                        lk.c.owner == held.owner,
                        lk.c.expires_at == held.expires_at,
                    )
                    .values(**values)
                )
                if taken.rowcount == 1:
                    return True
        return False

    def renew_lock(self, name: str, owner: str, *, ttl_s: float = LOCK_TTL_S) -> bool:
        """A holder's heartbeat; False if the lock is no longer this owner's."""
        lk = t.locks
        with self.tx() as conn:
            renewed = conn.execute(
                lk.update()
                .where(lk.c.name == name, lk.c.owner == owner)
                .values(expires_at=time.time() + ttl_s)
            )
            return renewed.rowcount == 1

    @contextlib.contextmanager
    def holding_lock(
        self,
        name: str,
        owner: str,
        is_stale: Callable[[str], bool],
        *,
        ttl_s: float = LOCK_TTL_S,
        wait_s: float = 0.0,
    ) -> Iterator[bool]:
        """`acquire_lock` for a body that may outlast `ttl_s`: yields whether the lock was
        taken (trying again for up to `wait_s` while another holds it), renews it from a
        heartbeat thread every third of the ttl while the body runs (so a live holder is
        never taken for a dead one), and releases it at the end. A holder that is really
        gone stops renewing, and the lock expires as before."""
        deadline = time.monotonic() + wait_s
        while not self.acquire_lock(name, owner, is_stale, ttl_s=ttl_s):
            if time.monotonic() >= deadline:
                yield False
                return
            time.sleep(min(LOCK_POLL_S, max(0.0, deadline - time.monotonic())))
        done = threading.Event()

        def beat() -> None:
            while not done.wait(ttl_s / 3):
                if not self.renew_lock(name, owner, ttl_s=ttl_s):
                    return  # taken over (we were stale): nothing of ours to renew

        heart = threading.Thread(target=beat, name=f"lock-heartbeat:{name}", daemon=True)
        heart.start()
        try:
            yield True
        finally:
            done.set()
            heart.join()
            self.release_lock(name, owner)

    def lock_holder(self, name: str) -> Row | None:
        rows = self._all(t.locks.select().where(t.locks.c.name == name))
        return rows[0] if rows else None

    def release_lock(self, name: str, owner: str) -> None:
        lk = t.locks
        with self.tx() as conn:
            conn.execute(lk.delete().where(lk.c.name == name, lk.c.owner == owner))
