"""Intake: claim complete files atomically, register them as work items, quarantine the rest.

Claiming is a rename into `<home>/intake/claimed/`: of two ticks or two processes racing for one
file exactly one rename succeeds. A claimed file is registered under a deterministic item id
(derived from its claimed name) *before* it is moved to its resting place, so a crash at any
point is replayed on the next tick without losing or doubling an item.

One bad file never holds up the others: a name that is not UTF-8 is claimed under a readable
one, a directory, FIFO or symbolic link is quarantined without being opened, an unreadable file
is quarantined, one that vanished is skipped; each leaves an alert, and the tick goes on.
"""

import errno
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ops_assets.observability.alerts import write_alert
from resources.settings.config import Config
from resources.settings.home import Home
from resources.store import Store
from sensors.intake_files import INTAKE_NOTES, keep_attachments, not_a_file, read_claimed
from sensors.maildir_intake import copy_new_messages
from sensors.parsing import ParsedMessage, UnusableInput, parse_input

SEPARATOR = "--"
MAX_NAME_BYTES = 160  # file systems allow 255; the claim prefix needs room
# A claimed file still unregistered after this long belongs to a tick that died.
ORPHAN_AFTER_S = 30.0
NO_REPLY_ADDRESS = "no_reply_address"
SKIPPED_MEMORY = "skipped.json"  # in <home>/intake: what was alerted about already
_UNSAFE_NAME = re.compile(r"[\x00-\x1f\x7f/\\\ufffd]")

logger = logging.getLogger(__name__)


@dataclass
class TickResult:
    batches: list[str] = field(default_factory=list)
    registered: int = 0
    quarantined: int = 0
    duplicates: int = 0
    waiting: int = 0
    skipped: int = 0  # vanished or unclaimable files, each with an alert


def _sources(home: Home, config: Config) -> list[Path]:
    # The owner's Maildirs are copied into the inbox first (sensors/maildir_intake.py): their
    # messages stay where they are.
    return [home.inbox]


def complete_files(folders: list[Path], *, settle_s: float, now: float) -> list[Path]:
    """Entries that look finished: not hidden, not `*.tmp`, unchanged for `settle_s`.

    Directories, FIFOs and links are listed too (by their own times, never followed), so that
    intake can move them aside with a reason instead of stepping over them for ever.
    """
    found = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        except OSError as exc:
            logger.warning("cannot list %s: %s", folder, exc.strerror)
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith(".tmp"):
                continue
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except OSError:
                continue  # taken by another claimer between scandir and stat, or unreadable
            if now - mtime >= settle_s:
                found.append((mtime, entry.name, Path(entry.path)))
    return [path for _, _, path in sorted(found)]


def readable_name(name: str) -> str:
    """A name that is valid UTF-8 without controls or separators (the raw bytes may be neither)."""
    text = os.fsencode(name).decode("utf-8", "replace")
    return _UNSAFE_NAME.sub("?", text)


def claim(path: Path, claimed_dir: Path) -> Path | None:
    """Take one file, atomically; None when another claimer was first or it cannot be moved.

    Any error stays with this one file: it never stops the files behind it.
    """
    name = readable_name(path.name)
    if len(name.encode()) > MAX_NAME_BYTES:  # keep room for the claim prefix
        digest = hashlib.sha256(os.fsencode(path.name)).hexdigest()[:12]
        name = f"{name.encode()[:80].decode(errors='ignore')}~{digest}{path.suffix[:16]}"
        name = readable_name(name)
    target = claimed_dir / f"{time.time_ns()}-{secrets.token_hex(3)}{SEPARATOR}{name}"
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None  # someone else claimed it first
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            logger.warning("cannot claim %s: %s", name[:80], exc.strerror)
            return None
        return _claim_across_filesystems(path, target)
    return target


def _claim_across_filesystems(path: Path, target: Path) -> Path | None:
    """A Maildir on another filesystem: copy, then take the original away (whoever removes it
    first owns the message)."""
    temp = target.with_name("." + target.name + ".tmp")
    try:
        if not_a_file(path) is not None:
            return None  # never copied across: it stays, and the tick alerts about it
        shutil.copy2(path, temp, follow_symlinks=False)
        os.unlink(path)
    except FileNotFoundError:
        temp.unlink(missing_ok=True)
        return None
    except OSError as exc:
        temp.unlink(missing_ok=True)
        logger.warning("cannot claim %s: %s", target.name[:80], exc.strerror)
        return None
    os.replace(temp, target)
    return target


def orphans(claimed_dir: Path, now: float) -> list[Path]:
    """Claimed files whose claimer died before registering them (the claim time is in the name)."""
    found = []
    for path in sorted(claimed_dir.iterdir()):
        if path.name.startswith("."):
            continue  # a cross-filesystem copy in progress
        stamp = path.name.split("-", 1)[0]
        if stamp.isdigit() and now - int(stamp) / 1e9 >= ORPHAN_AFTER_S:
            found.append(path)
    return found


def original_name(claimed: Path) -> str:
    return claimed.name.split(SEPARATOR, 1)[-1]


def item_id_for(claimed: Path) -> str:
    return "itm_" + hashlib.sha256(os.fsencode(claimed.name)).hexdigest()[:16]


def batch_key(item_ids: list[str], now: float) -> str:
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(now))
    digest = hashlib.sha256("|".join(sorted(item_ids)).encode()).hexdigest()[:8]
    return f"intake-{stamp}-{digest}"


def tick(
    store: Store, home: Home, config: Config, *, now: float | None = None, trigger: str = "inbox"
) -> TickResult:
    """One sensor tick's worth of intake: bounded, never raising on bad input."""
    now = time.time() if now is None else now
    result = TickResult()
    copy_new_messages(home, config)
    leftovers = orphans(home.claimed, now)
    ready = complete_files(_sources(home, config), settle_s=config.intake.settle_s, now=now)
    ready = ready[: config.intake.max_files_per_tick]
    batching = config.batching
    if ready and not leftovers and len(ready) < batching.max_items:
        mtimes = _mtimes(ready)  # another claimer may take files between listing and here
        if not mtimes:
            return result
        if now - min(mtimes) < batching.max_wait_s:
            result.waiting = len(ready)  # let the batch fill a little longer
            return result
    claimed = list(leftovers)
    for path in ready:
        taken = claim(path, home.claimed)
        if taken is not None:
            if readable_name(path.name) != path.name:
                _alert(home, "name_not_utf8", "the file name was not UTF-8", taken.name)
            claimed.append(taken)
        elif os.path.lexists(path):
            result.skipped += 1
            _alert_once(home, path, "cannot_claim", "the file cannot be moved out of the inbox")
    for start in range(0, len(claimed), batching.max_items):
        chunk = claimed[start : start + batching.max_items]
        key = batch_key([item_id_for(c) for c in chunk], now)
        store.create_batch(key, trigger, len(chunk))
        result.batches.append(key)
        for path in chunk:
            _register_safely(store, home, config, path, key, result)
    return result


def _mtimes(paths: list[Path]) -> list[float]:
    found = []
    for path in paths:
        try:
            found.append(path.lstat().st_mtime)
        except OSError:
            continue
    return found


def _register_safely(
    store: Store, home: Home, config: Config, claimed: Path, batch: str, result: TickResult
) -> None:
    """Register one claimed file; whatever goes wrong stays with this file."""
    try:
        _register(store, home, config, claimed, batch, result)
        return
    except FileNotFoundError as exc:
        if not os.path.lexists(claimed):
            result.skipped += 1  # removed by someone else between claim and read
            _alert(home, "vanished", "the file disappeared before it was read", claimed.name)
            return
        error: Exception = exc
    except Exception as exc:
        error = exc
    logger.error("intake failed on %s: %s", claimed.name[:80], type(error).__name__)
    unusable = UnusableInput("unreadable", f"intake failed on this file ({type(error).__name__})")
    try:
        _quarantine(store, home, claimed, batch, unusable, result)
    except Exception:  # e.g. the store is down: the orphan replay tries again later
        logger.exception("cannot quarantine %s", claimed.name[:80])
        _alert(home, "intake_error", f"{type(error).__name__}; left to retry", claimed.name)


def _register(
    store: Store, home: Home, config: Config, claimed: Path, batch: str, result: TickResult
) -> None:
    item_id, name = item_id_for(claimed), original_name(claimed)
    limits = config.intake
    try:
        data, arrived = read_claimed(claimed)
        parsed = parse_input(
            name, data, max_bytes=limits.max_bytes, max_body_chars=limits.max_body_chars
        )
    except UnusableInput as unusable:
        _quarantine(store, home, claimed, batch, unusable, result)
        return
    resting = home.originals / f"{item_id}.{parsed.kind}"
    item = item_fields(item_id, name, parsed, resting, arrived_at=arrived)
    if parsed.sender is None:
        # Mail nobody can be answered at is still mail: the owner decides what it needs.
        item.update(
            state="awaiting_human",
            reason_code=NO_REPLY_ADDRESS,
            reason="the message has no From address anyone could be answered at",
        )
    registered = store.register(item, batch=batch)
    if parsed.kind == "eml":
        _link_back(store, home, item_id, data)  # before the move: a crash replays both
    _move(claimed, resting)
    result.registered += registered.created
    result.duplicates += registered.state == "duplicate"


def _link_back(store: Store, home: Home, item_id: str, data: bytes) -> None:
    """A bounce or auto-reply to one of our replies marks that delivery
    (ops_assets/defs/delivery/bounces.py); a failure there never undoes the registration."""
    from ops_assets.defs.delivery.bounces import link_incoming

    try:
        link_incoming(store, home, item_id, data)
    except Exception as exc:
        logger.exception("cannot link %s to a delivery", item_id)
        write_alert(home, "bounce_link_failed", item_id=item_id, reason_code=type(exc).__name__)


def _quarantine(
    store: Store,
    home: Home,
    claimed: Path,
    batch: str,
    unusable: UnusableInput,
    result: TickResult,
) -> None:
    item_id, name = item_id_for(claimed), original_name(claimed)
    resting = home.quarantine / f"{item_id}{SEPARATOR}{name}"
    store.register(
        {
            "id": item_id,
            "source": name,
            "kind": "unusable",
            "state": "quarantined",
            "reason_code": unusable.code,
            "reason": unusable.reason,
            "original_path": str(resting),
        },
        batch=batch,
    )
    _move(claimed, resting)
    resting.with_name(resting.name + ".reason.json").write_text(
        json.dumps(
            {
                "item_id": item_id,
                "source": name,
                "reason_code": unusable.code,
                "reason": unusable.reason,
            },
            indent=2,
        )
    )
    write_alert(
        home, "intake_quarantined", item_id=item_id, reason_code=unusable.code, source=name[:80]
    )
    result.quarantined += 1


def _alert(home: Home, code: str, reason: str, name: str) -> None:
    write_alert(home, "intake_skipped", reason_code=code, reason=reason, source=name[:80])


def _alert_once(home: Home, path: Path, code: str, reason: str) -> None:
    """Alert about a file left in place once, not on every tick while it stays there."""
    try:
        info = path.lstat()
    except OSError:
        return
    key = hashlib.sha256(
        f"{os.fsencode(path)!r}:{info.st_ino}:{info.st_mtime_ns}:{code}".encode()
    ).hexdigest()[:16]
    memory = home.claimed.parent / SKIPPED_MEMORY
    try:
        seen = json.loads(memory.read_text())
    except (OSError, ValueError):
        seen = {}
    if key in seen:
        return
    week_ago = time.time() - 7 * 86400
    seen = {k: at for k, at in seen.items() if isinstance(at, int | float) and at > week_ago}
    seen[key] = time.time()
    temp = memory.with_name(f".{memory.name}.{secrets.token_hex(3)}.tmp")
    temp.write_text(json.dumps(seen))
    os.replace(temp, memory)
    _alert(home, code, reason, readable_name(path.name))


def _move(source: Path, target: Path) -> None:
    if not os.path.lexists(source) and os.path.lexists(target):
        return  # moved already, by a tick that died (or failed) just after
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def duplicate_key(parsed: ParsedMessage) -> str:
    """Same sender, subject, text and attachments: what makes two messages the same one (with
    a received time close enough, which the store checks)."""
    parts = [
        "v2",
        parsed.sender or "",
        " ".join(parsed.subject.split()),
        " ".join(parsed.body.split()),
        *sorted(a.sha256 for a in parsed.attachments),
    ]
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()


def item_fields(
    item_id: str,
    name: str,
    parsed: ParsedMessage,
    resting: Path,
    *,
    arrived_at: float | None = None,
) -> dict[str, Any]:
    """The work item's columns; attachments are kept beside `resting` (never sent to a model)."""
    notes = dict(parsed.extra)
    if parsed.attachments:
        notes["attachments"] = keep_attachments(
            parsed.attachments, resting.with_suffix(".attachments")
        )
    headers: dict[str, Any] = dict(parsed.headers)
    if notes:
        headers[INTAKE_NOTES] = notes
    received_at = parsed.received_at
    if received_at is None and arrived_at is not None:
        received_at = datetime.fromtimestamp(arrived_at, UTC).isoformat()
    return {
        "id": item_id,
        "source": name,
        "kind": parsed.kind,
        "sender": parsed.sender,
        "sender_name": parsed.sender_name,
        "recipients": list(parsed.to),
        "reply_to": parsed.reply_to,
        "subject": parsed.subject,
        "body": parsed.body,
        "message_id": parsed.message_id,
        "in_reply_to": parsed.in_reply_to,
        "references": list(parsed.references),
        "received_at": received_at,
        "headers": headers,
        "has_attachments": parsed.has_attachments,
        "flags": list(parsed.flags),
        "content_hash": duplicate_key(parsed),
        "original_path": str(resting),
    }
