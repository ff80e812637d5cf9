"""The file side of intake: reading a claimed entry without trusting what it is, and keeping
attachments beside their item. Nothing here parses mail."""

import hashlib
import os
import re
import stat
from pathlib import Path
from typing import Any

from sensors.parsing import MAX_FILE_BYTES, Attachment, UnusableInput

# The key under an item's `headers` (a JSON column) where intake keeps what the contract has
# no column for: attachments, unknown JSON fields, the charset really used. No real header
# can have this name: a colon cannot appear in a header's name.
INTAKE_NOTES = "opsbench:intake"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISLNK, "a symbolic link (links are not followed)"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISSOCK, "a socket"),
)


def not_a_file(path: Path) -> str | None:
    """What the entry is when it is not a regular file (never following a link)."""
    mode = path.lstat().st_mode
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "a device or other special file")


def read_claimed(path: Path, limit: int = MAX_FILE_BYTES) -> tuple[bytes, float]:
    """The bytes of a claimed regular file and when it arrived (its modification time).

    Raises UnusableInput for what cannot be mail (a directory, a FIFO, a link, a file that
    cannot be read) and FileNotFoundError when it is gone. It is opened without following
    links and without blocking, so a FIFO swapped in after the check cannot hang the tick.
    """
    what = not_a_file(path)
    if what is not None:
        raise UnusableInput("not_a_file", f"the entry is {what}, not a file")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise UnusableInput("unreadable", f"the file cannot be read ({exc.strerror})") from exc
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise UnusableInput("not_a_file", "the entry changed into something not a file")
        if info.st_size > limit:
            raise UnusableInput("oversize", f"file is {info.st_size} bytes, limit is {limit}")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise UnusableInput("unreadable", f"the file cannot be read ({exc.strerror})") from exc
    if len(data) > limit:
        raise UnusableInput("oversize", f"file grew over the {limit} byte limit")
    return data, info.st_mtime


def attachment_file_name(index: int, attachment: Attachment) -> str:
    stem = _SAFE.sub("_", attachment.name).strip("._")[:80] or "attachment"
    return f"{index:02d}-{stem}"


def keep_attachments(attachments: tuple[Attachment, ...], folder: Path) -> list[dict[str, Any]]:
    """Write each attachment once (named by position, so a replay rewrites the same files)."""
    folder.mkdir(parents=True, exist_ok=True)
    kept = []
    for index, attachment in enumerate(attachments, 1):
        target = folder / attachment_file_name(index, attachment)
        if not target.is_file() or target.stat().st_size != len(attachment.data):
            temp = target.with_name(f".{target.name}.tmp")
            temp.write_bytes(attachment.data)
            os.replace(temp, target)
        kept.append(
            {
                "name": attachment.name,
                "content_type": attachment.content_type,
                "bytes": len(attachment.data),
                "sha256": hashlib.sha256(attachment.data).hexdigest(),
                "path": str(target),
            }
        )
    return kept
