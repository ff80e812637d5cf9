"""The file outbox connector: one `.eml` file per delivery, written atomically.

The idempotency key is the file name, so the far side dedupes by itself: a second write of
the same key replaces a file with identical bytes, and `lookup` can confirm a send whose
receipt was never recorded.
"""

import hashlib
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import dagster as dg

from resources.settings import SettingsResource
from resources.store import Store


@dataclass(frozen=True)
class Receipt:
    connector: str
    key: str
    reference: str


class FileOutbox:
    name = "outbox"
    version = "1"
    can_dedupe = True

    def __init__(self, folder: Path, *, sandbox: bool = False) -> None:
        self.folder = folder
        self.sandbox = sandbox

    def path_for(self, idempotency_key: str) -> Path:
        return self.folder / f"{idempotency_key}.eml"

    def lookup(self, idempotency_key: str) -> Receipt | None:
        path = self.path_for(idempotency_key)
        if not path.exists():
            return None
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        return Receipt(self.name, idempotency_key, f"{path.name}#{digest}")

    def send(self, payload: bytes, idempotency_key: str) -> Receipt:
        self.folder.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=self.folder)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path_for(idempotency_key))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        receipt = self.lookup(idempotency_key)
        assert receipt is not None
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


class OutboxResource(dg.ConfigurableResource):
    """Delivers replies as `.eml` files into `<home>/outbox` (the skeleton's only connector)."""

    settings: SettingsResource

    def connector(self, *, agent: str, store: Store) -> FileOutbox:
        """The outbox, for an agent whose scopes include it (refused and audited otherwise)."""
        from ops_assets.governance.scopes import require_scope

        require_scope(store, agent, "connector:outbox", self.settings.policy().scopes)
        return FileOutbox(self.settings.home_dir().outbox)
