"""Claims of model calls in flight: one asker pays for a request, the others wait for its
answer in the ledger — across threads, processes and (by expiry) machines.

A claim is taken by compare-and-set in SQL only: an INSERT that does nothing on conflict, or
an UPDATE whose WHERE re-checks that the claim is still the one seen (its owner dead) or has
expired. The row count says who won. SQLite serialises writers; Postgres re-checks the WHERE
of a concurrent UPDATE under the row lock, so both dialects give one winner.
"""

import os
import socket
import threading
import time
from dataclasses import dataclass

import sqlalchemy as sa

from resources.processes import pid_alive
from resources.store import schema as t
from resources.store.base import Row, StoreBase, insert, now_iso


@dataclass(frozen=True)
class Asker:
    """Who holds a claim: a thread of a process on a host (the pid lets a neighbour on the
    same host see that the owner died; elsewhere only the expiry does)."""

    host: str
    pid: int
    thread: int

    @classmethod
    def current(cls) -> "Asker":
        return cls(socket.gethostname(), os.getpid(), threading.get_ident())

    @property
    def id(self) -> str:
        return f"{self.host}:{self.pid}:{self.thread}"

    def sees_gone(self, claim: Row) -> bool:
        """Is the claim's owner a process on this host that no longer runs?"""
        return (
            claim["host"] == self.host
            and claim["pid"] != self.pid
            and not pid_alive(int(claim["pid"]))
        )


def _insert_unless_present(conn: sa.Connection, values: Row) -> sa.Executable:
    return insert(conn, t.model_call_claims).values(values).on_conflict_do_nothing()  # type: ignore[no-any-return]


class CallClaims(StoreBase):
    def claim_call(self, request_hash: str, asker: Asker, ttl_s: float) -> bool:
        """Take the claim if nobody holds it, this asker already does, or it expired."""
        now, claims = time.time(), t.model_call_claims
        values = {
            "owner": asker.id,
            "host": asker.host,
            "pid": asker.pid,
            "expires_at": now + ttl_s,
            "claimed_at": now_iso(),
        }
        with self.tx() as conn:
            inserted = conn.execute(
                _insert_unless_present(conn, {"request_hash": request_hash, **values})
            )
            if inserted.rowcount == 1:
                return True
            taken = conn.execute(
                claims.update()
                .where(
                    claims.c.request_hash == request_hash,
                    sa.or_(claims.c.owner == asker.id, claims.c.expires_at < now),
                )
                .values(values)
            )
            return taken.rowcount == 1

    def take_over_call(
        self, request_hash: str, gone_owner: str, asker: Asker, ttl_s: float
    ) -> bool:
        """Take a claim whose owner was seen gone, unless someone else took it meanwhile."""
        claims = t.model_call_claims
        with self.tx() as conn:
            taken = conn.execute(
                claims.update()
                .where(claims.c.request_hash == request_hash, claims.c.owner == gone_owner)
                .values(
                    owner=asker.id,
                    host=asker.host,
                    pid=asker.pid,
                    expires_at=time.time() + ttl_s,
                    claimed_at=now_iso(),
                )
            )
            return taken.rowcount == 1

    def renew_call_claim(self, request_hash: str, asker: Asker, ttl_s: float) -> bool:
        """The owner's heartbeat; False if the claim is no longer this asker's."""
        claims = t.model_call_claims
        with self.tx() as conn:
            renewed = conn.execute(
                claims.update()
                .where(claims.c.request_hash == request_hash, claims.c.owner == asker.id)
                .values(expires_at=time.time() + ttl_s)
            )
            return renewed.rowcount == 1

    def release_call_claim(self, request_hash: str, asker: Asker) -> None:
        claims = t.model_call_claims
        with self.tx() as conn:
            conn.execute(
                claims.delete().where(
                    claims.c.request_hash == request_hash, claims.c.owner == asker.id
                )
            )

    def call_claim(self, request_hash: str) -> Row | None:
        claims = t.model_call_claims
        rows = self._all(claims.select().where(claims.c.request_hash == request_hash))
        return rows[0] if rows else None
