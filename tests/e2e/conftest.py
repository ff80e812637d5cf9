"""The real embedded model server, started once per test session (weights cached under
OPSBENCH_CACHE, fetched on first use)."""

from collections.abc import Iterator

import pytest

from resources.settings.home import open_home


@pytest.fixture(scope="session")
def local_model(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """The server's URL and the key of the home that started it (it admits nobody else)."""
    from resources.llm.local_server import ensure_server
    from resources.llm.weights import prepare
    from resources.web.keys import SERVER_KEY, home_key

    home = open_home(tmp_path_factory.mktemp("llm-home"))
    server = ensure_server(home, prepare())
    yield server.url, home_key(home.root, SERVER_KEY)
    server.stop()
