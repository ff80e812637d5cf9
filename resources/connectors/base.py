"""The connector contract: `send(payload, idempotency_key) -> Receipt`, `health()`, a version,
and a sandbox mode that captures instead of sending.

`can_dedupe` says whether the far side recognises a repeated idempotency key (a webhook with
an Idempotency-Key header, the file outbox by file name): only then may a send whose receipt
was never recorded be tried again. SMTP cannot: such a send waits for the owner.
"""

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class Receipt:
    connector: str
    key: str
    reference: str


class ConnectorError(Exception):
    """A send that did not go through. `permanent`: the far side refused it (a 4xx, a rejected
    recipient) and trying again will not help; otherwise it may pass later. `maybe_sent`: the
    connection broke after the message was handed over, so it may have arrived.

    `code` (`smtp_550`, `webhook_http_422`, `outbox_not_writable`) is what the ledger and the
    audit log keep: a server's own text quotes the recipient ("<sam@...>: mailbox unknown"),
    and the audit log is append-only, so that text would outlive an erase."""

    def __init__(
        self,
        message: str,
        *,
        permanent: bool,
        maybe_sent: bool = False,
        code: str = "connector_error",
    ) -> None:
        super().__init__(message)
        self.code = code
        self.permanent = permanent
        self.maybe_sent = maybe_sent


class Connector(Protocol):
    name: str
    version: str
    can_dedupe: bool
    sandbox: bool

    def send(self, payload: bytes, idempotency_key: str) -> Receipt: ...

    def lookup(self, idempotency_key: str) -> Receipt | None: ...

    def health(self) -> tuple[bool, str]: ...


def atomic_write(path: Path, payload: bytes) -> None:
    """Write through a hidden temp file and rename: a reader never sees half a file. The file
    and then its folder are synced before this returns, so a power cut after it cannot lose a
    send the ledger is about to record."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    sync_folder(path.parent)


def sync_folder(folder: Path) -> None:
    """The rename lives in the directory's entries: only syncing the directory makes it last."""
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Sandbox:
    """Sandbox mode: a connector that captures each payload under `<home>/sandbox/<name>/`
    instead of sending it. Same contract, same keys, nothing leaves the machine."""

    can_dedupe = True
    sandbox = True

    def __init__(self, real: Connector, folder: Path, suffix: str) -> None:
        # Its own name in the ledger: a send captured here is not a send through `real`.
        self.name, self.version = f"sandbox-{real.name}", real.version
        self.folder, self.suffix = folder, suffix

    def _path(self, key: str) -> Path:
        return self.folder / f"{key}{self.suffix}"

    def send(self, payload: bytes, idempotency_key: str) -> Receipt:
        atomic_write(self._path(idempotency_key), payload)
        return Receipt(self.name, idempotency_key, f"sandbox:{self._path(idempotency_key).name}")

    def lookup(self, idempotency_key: str) -> Receipt | None:
        path = self._path(idempotency_key)
        return (
            Receipt(self.name, idempotency_key, f"sandbox:{path.name}") if path.exists() else None
        )

    def health(self) -> tuple[bool, str]:
        return True, "sandbox: captured, not sent"
