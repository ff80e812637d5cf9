"""`--llm local` for the verbs that call a model: fetch the weights once (a byte counter and
speed on stderr while they download, fed by the fetch's progress hook) and start this home's
server unless one runs."""

from typing import Any

from opsbench.cli import ui
from resources.settings.environment import environment


def local_server_if_needed(home: Any, *, as_json: bool = False) -> Any:
    """The started server for `--llm local`, or None for any other model."""
    if (environment().llm or "local") != "local":
        return None
    from resources.llm.local_server import ensure_server

    return ensure_server(home, prepare_weights(shown=ui.progress_shown(as_json)))


def prepare_weights(*, shown: bool) -> Any:
    """The verified weights, with a download bar on stderr while they are fetched."""
    from resources.llm import weights

    with ui.download_bar("model weights", weights.EXPECTED_SIZE, shown=shown) as progress:
        return weights.prepare(progress=progress)


def stop(server: Any) -> None:
    if server is not None and server.started:
        server.stop()
