"""The real embedded model server, started once per test session (weights cached under
OPSBENCH_CACHE, fetched on first use)."""

from collections.abc import Iterator

import pytest

from ops_assets.home import open_home


@pytest.fixture(scope="session")
def local_model_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    from resources.llm.local_server import ensure_server
    from resources.llm.weights import prepare

    home = open_home(tmp_path_factory.mktemp("llm-home"))
    server = ensure_server(home, prepare())
    yield server.url
    server.stop()
