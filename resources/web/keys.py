"""Per-home secrets for the local servers: the UI's login token and the key the model and
embedding servers demand. Made once, kept in `<home>/secrets/` readable by the owner only
(as Jupyter keeps its token), never written anywhere else."""

import os
import secrets
from pathlib import Path

UI_TOKEN = "ui.token"  # noqa: S105 (the name of an environment variable or file, not a secret)
SERVER_KEY = "servers.key"


def home_key_path(home_root: Path, name: str) -> Path:
    return home_root / "secrets" / name


def home_key(home_root: Path, name: str) -> str:
    """The home's secret `name`, created on first use (0600 inside a 0700 folder)."""
    path = home_key_path(home_root, name)
    try:
        return path.read_text().strip()
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    value = secrets.token_urlsafe(32)
    temp = path.with_name(f".{name}.{os.getpid()}")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    try:
        os.link(temp, path)  # first writer wins; a racing process reads the winner's key
    except FileExistsError:
        pass
    finally:
        temp.unlink(missing_ok=True)
    return path.read_text().strip()


def ui_auth_headers(home_root: Path) -> dict[str, str]:
    """What the owner's own tools send to the home's UI (reprocess --ui, health probes)."""
    return {"Authorization": f"Bearer {home_key(home_root, UI_TOKEN)}"}
