"""The file outbox connector: one `.eml` file per delivery, written atomically.

The idempotency key is the file name, so the far side dedupes by itself: a second write of
the same key replaces a file with identical bytes, and `lookup` can confirm a send whose
receipt was never recorded.
"""

import hashlib
from pathlib import Path

from resources.connectors.base import ConnectorError, Receipt, atomic_write


class FileOutbox:
    name = "outbox"
    version = "1"
    can_dedupe = True
    sandbox = False

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def path_for(self, idempotency_key: str) -> Path:
        return self.folder / f"{idempotency_key}.eml"

    def lookup(self, idempotency_key: str) -> Receipt | None:
        path = self.path_for(idempotency_key)
        if not path.exists():
            return None
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        return Receipt(self.name, idempotency_key, f"{path.name}#{digest}")

    def send(self, payload: bytes, idempotency_key: str) -> Receipt:
        try:
            atomic_write(self.path_for(idempotency_key), payload)
        except OSError as exc:  # disk full, permissions: nothing was written
            raise ConnectorError(
                f"outbox not writable: {exc}", code="outbox_not_writable", permanent=False
            ) from exc
        receipt = self.lookup(idempotency_key)
        if not (receipt is not None):  # an invariant, kept under python -O
            raise RuntimeError("invariant broken: receipt is not None")
        return receipt

    def health(self) -> tuple[bool, str]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            probe = self.folder / ".health"
            probe.write_bytes(b"ok")
            probe.unlink()
        except OSError as exc:
            return False, f"outbox not writable: {exc}"
        return True, "outbox writable"
