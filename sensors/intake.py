"""Intake: claim complete files atomically, register them as work items, quarantine the rest.

Claiming is a rename into `<home>/intake/claimed/`: of two ticks or two processes racing for one
file exactly one rename succeeds. A claimed file is registered under a deterministic item id
(derived from its claimed name) *before* it is moved to its resting place, so a crash at any
point is replayed on the next tick without losing or doubling an item.
"""

import errno
import hashlib
import json
import logging
import os
import secrets
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ops_assets.config import Config
from ops_assets.home import Home
from resources.store import Store
from sensors.parsing import ParsedMessage, UnusableInput, parse_input

SEPARATOR = "--"
MAX_NAME_BYTES = 160  # file systems allow 255; the claim prefix needs room
# A claimed file still unregistered after this long belongs to a tick that died.
ORPHAN_AFTER_S = 30.0


logger = logging.getLogger(__name__)


@dataclass
class TickResult:
    batches: list[str] = field(default_factory=list)
    registered: int = 0
    quarantined: int = 0
    duplicates: int = 0
    waiting: int = 0


def _sources(home: Home, config: Config) -> list[Path]:
    return [home.inbox, *(Path(m).expanduser() / "new" for m in config.intake.maildirs)]


def complete_files(folders: list[Path], *, settle_s: float, now: float) -> list[Path]:
    """Files that look finished: not hidden, not `*.tmp`, unchanged for `settle_s`."""
    found = []
    for folder in folders:
        try:
            entries = list(os.scandir(folder))
        except FileNotFoundError:
            continue
        for entry in entries:
            if entry.name.startswith(".") or entry.name.endswith(".tmp"):
                continue
            try:
                if not entry.is_file(follow_symlinks=False):
                    continue
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue  # taken by another claimer between scandir and stat
            if now - mtime >= settle_s:
                found.append((mtime, entry.name, Path(entry.path)))
    return [path for _, _, path in sorted(found)]


def claim(path: Path, claimed_dir: Path) -> Path | None:
    """Take one file, atomically; None when another claimer was first or it cannot be moved.

    Any error stays with this one file: it never stops the files behind it.
    """
    name = path.name
    if len(name.encode()) > MAX_NAME_BYTES:  # keep room for the claim prefix
        digest = hashlib.sha256(name.encode()).hexdigest()[:12]
        name = f"{name.encode()[:80].decode(errors='ignore')}~{digest}{path.suffix[:16]}"
    target = claimed_dir / f"{time.time_ns()}-{secrets.token_hex(3)}{SEPARATOR}{name}"
    try:
        os.rename(path, target)
    except FileNotFoundError:
        return None  # someone else claimed it first
    except OSError as exc:
        if exc.errno != errno.EXDEV:
            logger.warning("cannot claim %s: %s", path.name[:80], exc.strerror)
            return None
        return _claim_across_filesystems(path, target)
    return target


def _claim_across_filesystems(path: Path, target: Path) -> Path | None:
    """A Maildir on another filesystem: copy, then take the original away (whoever removes it
    first owns the message)."""
    temp = target.with_name("." + target.name + ".tmp")
    try:
        shutil.copy2(path, temp)
        os.unlink(path)
    except FileNotFoundError:
        temp.unlink(missing_ok=True)
        return None
    except OSError as exc:
        temp.unlink(missing_ok=True)
        logger.warning("cannot claim %s: %s", path.name[:80], exc.strerror)
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
    return "itm_" + hashlib.sha256(claimed.name.encode()).hexdigest()[:16]


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
    claimed = leftovers + [c for c in (claim(p, home.claimed) for p in ready) if c is not None]
    for start in range(0, len(claimed), batching.max_items):
        chunk = claimed[start : start + batching.max_items]
        key = batch_key([item_id_for(c) for c in chunk], now)
        store.create_batch(key, trigger, len(chunk))
        result.batches.append(key)
        for path in chunk:
            _register(store, home, config, path, key, result)
    return result


def _mtimes(paths: list[Path]) -> list[float]:
    found = []
    for path in paths:
        try:
            found.append(path.stat().st_mtime)
        except FileNotFoundError:
            continue
    return found


def _register(
    store: Store, home: Home, config: Config, claimed: Path, batch: str, result: TickResult
) -> None:
    item_id, name = item_id_for(claimed), original_name(claimed)
    limits = config.intake
    try:
        size = claimed.stat().st_size
        if size > limits.max_bytes:
            raise UnusableInput("oversize", f"{size} bytes is over the {limits.max_bytes} limit")
        parsed = parse_input(
            name,
            claimed.read_bytes(),
            max_bytes=limits.max_bytes,
            max_body_chars=limits.max_body_chars,
        )
    except UnusableInput as unusable:
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
        result.quarantined += 1
        return
    resting = home.originals / f"{item_id}.{parsed.kind}"
    registered = store.register(item_fields(item_id, name, parsed, resting), batch=batch)
    _move(claimed, resting)
    result.registered += registered.created
    result.duplicates += registered.state == "duplicate"


def _move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)


def item_fields(item_id: str, name: str, parsed: ParsedMessage, resting: Path) -> dict[str, Any]:
    # Same sender and body is a duplicate, as the issue defines it. Two short mails like "see
    # subject" with different subjects collide; `opsbench retry` releases such a false one.
    content = f"{parsed.sender}\x00{' '.join(parsed.body.split())}"
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
        "received_at": parsed.received_at,
        "headers": parsed.headers,
        "has_attachments": parsed.has_attachments,
        "content_hash": hashlib.sha256(content.encode()).hexdigest(),
        "original_path": str(resting),
    }
