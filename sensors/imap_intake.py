"""IMAP intake: each tick, every configured account and folder is read for messages with a UID
above the last one taken, and each is registered through the same step as a dropped file
(sensors/intake.py: quarantine, Message-ID dedupe, the original kept under <home>/originals).

The order is what makes it safe: register, then flag \\Seen (or move), then remember the UID.
A crash anywhere re-reads the same messages on the next tick; their item ids come from the
account and Message-ID, so a replay (or a UIDVALIDITY change, which re-reads the folder) finds
them registered already. Nothing is ever deleted from the server.

A server that cannot be reached, or refuses the login, leaves an alert and a backoff in the
store (controls `imap_retry:<account>`); the sensor tick goes on with the other accounts."""

import email.parser
import email.policy
import hashlib
import json
import logging
import os
import re
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from ops_assets.defs.delivery.ledger import failpoint
from ops_assets.observability.alerts import write_alert
from resources.connectors.imap import FetchedMessage, ImapSession, ImapUnavailable, imap_session
from resources.connectors.imap_config import ImapAccount
from resources.processes import pid_alive
from resources.settings.config import Config
from resources.settings.environment import secret_value
from resources.settings.home import Home
from resources.store import Store
from sensors.intake import SEPARATOR, TickResult, _register_safely, batch_key, item_id_for

ACTOR = "imap_intake"
# Crash tests kill the process here: the messages are registered but not yet flagged.
AFTER_REGISTER = "imap:after_register"
MAX_BACKOFF_S = 600.0
FIRST_BACKOFF_S = 5.0
LOCK_STALE_S = 600.0  # a read takes seconds; a holder this old died on another machine
_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]")

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class _Position:
    uidvalidity: int
    last_uid: int


def state_key(account: ImapAccount, folder: str) -> str:
    return f"imap:{account.name}:{folder}"


def _retry_key(account: ImapAccount) -> str:
    return f"imap_retry:{account.name}"


def _reader() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}:{time.time():.0f}"


def _reader_gone(holder: str) -> bool:
    """The account's reader died, or has held it far longer than any read takes."""
    host, pid, _, since = [*holder.rsplit(":", 3), "", "", ""][:4]
    if not since.isdigit() or time.time() - int(since) > LOCK_STALE_S:
        return True
    return host == socket.gethostname() and pid.isdigit() and not pid_alive(int(pid))


def imap_tick(
    store: Store,
    home: Home,
    config: Config,
    *,
    now: float | None = None,
    only: str | None = None,
) -> TickResult:
    """Read every configured account (or the one named `only`) once; never raises (each
    failure is an alert). An account another reader is reading (the sensor, or the IDLE
    watcher of sensors/imap_idle.py) is left to it."""
    now = time.time() if now is None else now
    result = TickResult()
    for account in config.intake.imap:
        if only is not None and account.name != only:
            continue
        reader = _reader()
        try:
            if _backing_off(store, account, now):
                continue
            if not store.acquire_lock(f"imap:{account.name}", reader, _reader_gone):
                continue
            try:
                _take_account(store, home, config, account, now, result)
            finally:
                store.release_lock(f"imap:{account.name}", reader)
            if _failures(store, account):
                store.set_control(_retry_key(account), "{}", actor=ACTOR)
        except ImapUnavailable as exc:
            _failed(store, home, account, exc.code, exc.detail, now)
        except Exception as exc:  # a bug or a store outage must not stop the sensor
            logger.exception("IMAP intake failed for %s", account.name)
            _failed(store, home, account, "intake_error", type(exc).__name__, now)
    return result


def _take_account(
    store: Store,
    home: Home,
    config: Config,
    account: ImapAccount,
    now: float,
    result: TickResult,
) -> None:
    password = secret_value(account.password_env)
    if not password:
        raise ImapUnavailable("password_missing", f"${account.password_env} is not set")
    with imap_session(account, password) as session:
        for folder in account.folders:
            _take_folder(store, home, config, account, session, folder, now, result)


def _take_folder(
    store: Store,
    home: Home,
    config: Config,
    account: ImapAccount,
    session: ImapSession,
    folder: str,
    now: float,
    result: TickResult,
) -> None:
    known = _position(store, account, folder)
    validity = session.uidvalidity(folder)
    # Another UIDVALIDITY means the old UIDs say nothing any more: read the folder again and
    # let the Message-ID based item ids find what is registered already.
    after = known.last_uid if known is not None and known.uidvalidity == validity else 0
    fetched = session.fetch_after(folder, after, limit=account.max_messages_per_tick)
    if not fetched:
        if known is None or known.uidvalidity != validity:
            _remember(store, account, folder, _Position(validity, after))
        return
    staged = [(message, _stage(home, account, folder, validity, message)) for message in fetched]
    fresh = [path for _, path in staged if store.get_item(item_id_for(path)) is None]
    if fresh:
        batch = batch_key([item_id_for(p) for p in fresh], now)
        store.create_batch(batch, "imap", len(fresh))
        result.batches.append(batch)
        for path in fresh:
            _register_safely(store, home, config, path, batch, result)
        if any(store.get_item(item_id_for(p)) is None for p in fresh):
            # Not registered (the store failed): not flagged, not remembered, read again.
            raise RuntimeError("messages left unregistered")
    for _, path in staged:
        path.unlink(missing_ok=True)  # a replay: registered before, its original is kept
    failpoint(AFTER_REGISTER)
    uids = [message.uid for message in fetched]
    session.mark_taken(folder, uids, account.move_to)
    _remember(store, account, folder, _Position(validity, max(uids)))


def message_key(account: ImapAccount, folder: str, validity: int, message: FetchedMessage) -> str:
    """The same message under any UID: its Message-ID in this account, or failing that where
    it lies (which a UIDVALIDITY change makes new: such mail is then registered again)."""
    headers = email.parser.BytesHeaderParser(policy=email.policy.compat32).parsebytes(
        message.raw[:65536]
    )
    message_id = " ".join(str(headers.get("Message-ID") or "").split())
    basis = (
        f"mid|{account.name}|{message_id}"
        if message_id
        else (f"uid|{account.name}|{folder}|{validity}|{message.uid}")
    )
    return hashlib.sha256(basis.encode()).hexdigest()[:20]


def _stage(
    home: Home, account: ImapAccount, folder: str, validity: int, message: FetchedMessage
) -> Path:
    """Write the message where intake expects a claimed file, under a name fixed by its key
    (the item id is derived from that name). The leading dot keeps the orphan replay of
    claimed files away from it: an unfinished one is rewritten by the next fetch."""
    key = message_key(account, folder, validity, message)
    source = f"imap-{_UNSAFE.sub('_', account.name)}-{key[:12]}.eml"
    path = home.claimed / f".imap-{key}{SEPARATOR}{source}"
    temp = path.with_name(path.name + ".part")
    temp.write_bytes(message.raw)
    os.replace(temp, path)
    return path


def _position(store: Store, account: ImapAccount, folder: str) -> _Position | None:
    row = store.control(state_key(account, folder))
    if row is None:
        return None
    try:
        value = json.loads(row["value"])
        return _Position(int(value["uidvalidity"]), int(value["last_uid"]))
    except (ValueError, KeyError, TypeError):
        return None  # unreadable state: re-read the folder, the item ids keep it single


def _remember(store: Store, account: ImapAccount, folder: str, position: _Position) -> None:
    value = json.dumps({"uidvalidity": position.uidvalidity, "last_uid": position.last_uid})
    store.set_control(state_key(account, folder), value, actor=ACTOR)


def _backing_off(store: Store, account: ImapAccount, now: float) -> bool:
    row = store.control(_retry_key(account))
    if row is None:
        return False
    try:
        return now < float(json.loads(row["value"]).get("after", 0))
    except (ValueError, TypeError, AttributeError):
        return False


def _failures(store: Store, account: ImapAccount) -> int:
    row = store.control(_retry_key(account))
    if row is None:
        return 0
    try:
        return int(json.loads(row["value"]).get("failures", 0))
    except (ValueError, TypeError, AttributeError):
        return 0


def _failed(
    store: Store, home: Home, account: ImapAccount, code: str, detail: str, now: float
) -> None:
    """Alert, and wait longer before each next attempt (5 s doubling to 10 min)."""
    try:
        failures = _failures(store, account)
    except Exception:  # the store is down: alert as for a first failure
        failures = 0
    delay = min(MAX_BACKOFF_S, FIRST_BACKOFF_S * 2**failures)
    try:
        write_alert(
            home,
            "imap_unavailable",
            account=account.name,
            reason_code=code,
            reason=detail[:200],
            retry_in_s=delay,
        )
    except OSError:
        logger.exception("cannot write the IMAP alert for %s", account.name)
    try:
        value = json.dumps({"failures": failures + 1, "after": now + delay, "code": code})
        store.set_control(_retry_key(account), value, actor=ACTOR)
    except Exception:  # the store is down: the alert is out, the next tick tries again
        logger.exception("cannot record the IMAP backoff for %s", account.name)
