"""The owner's Maildirs (config `intake.maildirs`), read the way a mail client reads them:
each message in new/ is copied into <home>/inbox, then moved to cur/ with the seen flag
(`:2,S`). Nothing is removed from the owner's mailbox; the copy goes through intake like any
dropped file (claim, quarantine, Message-ID dedupe).

Copy first, mark second: a tick that dies in between copies the same message again under the
same name on the next tick, so at most one copy waits in the inbox."""

import logging
import mailbox
import os
import re
from pathlib import Path

from ops_assets.observability.alerts import write_alert
from resources.settings.config import Config
from resources.settings.home import Home

SEEN = "S"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.,=+-]")

logger = logging.getLogger(__name__)


def copy_new_messages(home: Home, config: Config, *, mark_seen: bool = True) -> int:
    """Copy every configured Maildir's new messages into the inbox; how many were copied.

    `mark_seen=False` is for crash tests: the copy without the mark that follows it."""
    copied = 0
    budget = config.intake.max_files_per_tick
    for folder in config.intake.maildirs:
        root = Path(folder).expanduser()
        if not (root / "new").is_dir():
            continue  # not there (yet): nothing to read, as with an empty one
        box = mailbox.Maildir(root, factory=None, create=False)
        for key, path in _new_messages(box, root)[: max(budget - copied, 0)]:
            try:
                _copy(box, key, path, home.inbox)
                if mark_seen:
                    _mark_seen(box, root, path)
            except FileNotFoundError:
                continue  # the owner's client took it to cur/ first: it is theirs
            except OSError as exc:
                logger.warning("cannot take %s from %s: %s", key[:80], root, exc.strerror)
                write_alert(
                    home,
                    "intake_skipped",
                    reason_code="maildir_unreadable",
                    reason=f"a Maildir message could not be copied ({exc.strerror})",
                    source=key[:80],
                )
                continue
            copied += 1
    return copied


def _new_messages(box: mailbox.Maildir, root: Path) -> list[tuple[str, Path]]:
    """(key, file) of the messages still in new/, oldest name first. Listed here: Python
    3.11's Maildir tells new/ from cur/ only by parsing each message, and cur/ is the
    owner's whole mailbox."""
    found = []
    for entry in os.scandir(root / "new"):
        if entry.name.startswith(".") or not entry.is_file(follow_symlinks=False):
            continue  # not a message by Maildir's rules; mailbox.Maildir skips it too
        found.append((entry.name.split(box.colon)[0], Path(entry.path)))
    return sorted(found)


def inbox_name(key: str) -> str:
    return f"maildir-{_UNSAFE.sub('_', key)[:120]}.eml"


def _copy(box: mailbox.Maildir, key: str, source: Path, inbox: Path) -> None:
    target = inbox / inbox_name(key)
    temp = target.with_name(f".{target.name}.tmp")  # hidden and *.tmp: intake waits for it
    stat = source.stat()
    with box.get_file(key) as handle:
        data = handle.read()
    inbox.mkdir(parents=True, exist_ok=True)
    temp.write_bytes(data)
    # The arrival time is the message's own, for settling and batching as before.
    os.utime(temp, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    os.replace(temp, target)


def _mark_seen(box: mailbox.Maildir, root: Path, source: Path) -> None:
    """new/<name>[:2,<flags>] -> cur/<name>:2,<flags + S>, as mail clients do (one rename)."""
    base, _, info = source.name.partition(box.colon)
    flags = info[2:] if info.startswith("2,") else ""
    flags = "".join(sorted(set(flags) | {SEEN}))
    os.rename(source, root / "cur" / f"{base}{box.colon}2,{flags}")
