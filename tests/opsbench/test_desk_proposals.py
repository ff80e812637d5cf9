"""A proposal waiting for approval on the desk, behind the real guard: the plan's steps, the
verifier's rows, each version with the diff to the one before, and its PDF as a download
with the same login; approve and reject are the desk's forms for it."""

from collections.abc import Iterator

import pytest
from desk_seeds import ITEM, seed_proposal
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount
from starlette.testclient import TestClient

from opsbench.desk.routes import routes
from opsbench.ui_server import guarded_app
from resources.web.keys import UI_TOKEN, home_key

PORT = 8432
_fallback = PlainTextResponse("dagster ui stand-in")


@pytest.fixture
def client(bench) -> Iterator[TestClient]:
    seed_proposal(bench.store)
    app = Starlette(routes=[*routes(bench.home, bench.store), Mount("/", app=_fallback)])
    with TestClient(guarded_app(bench.home, PORT, app), base_url=f"http://127.0.0.1:{PORT}") as c:
        assert c.get(f"/login?token={home_key(bench.home.root, UI_TOKEN)}").url.path == "/desk"
        yield c


def test_the_desk_shows_the_plan_the_checks_each_version_and_the_diff(client) -> None:
    page = client.get("/desk").text
    card = page[page.index(f'id="{ITEM}"') :]
    assert (
        "Proposal plan" in card and "Six pages and booking." in card and "Priced per unit." in card
    )
    assert f'id="{ITEM}-v1"' in card and f'id="{ITEM}-v2"' in card
    assert "prices_from_catalogue" in card and "FAILED" in card and "no list" in card
    assert "revises itm_proposal01 v1" in card
    assert "-Six pages." in card and "+Six pages and booking." in card  # the Markdown diff
    assert "-TOTAL 2400.00 EUR" in card and "+TOTAL 2900.00 EUR" in card  # the priced lines
    assert f'href="/desk/proposal/{ITEM}/v2.pdf"' in card
    assert 'name="action" value="approve"' in card and 'name="action" value="reject"' in card
    assert 'name="action" value="edit"' not in card  # sent as verified, never edited


def test_the_pdf_downloads_with_the_login_and_not_without(client, bench) -> None:
    response = client.get(f"/desk/proposal/{ITEM}/v2.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    assert response.headers["content-type"] == "application/pdf"
    assert response.headers["content-disposition"] == (
        f'attachment; filename="proposal-{ITEM}-v2.pdf"'
    )
    assert client.get(f"/desk/proposal/{ITEM}/v9.pdf").status_code == 404
    assert client.get("/desk/proposal/not-an-item/v1.pdf").status_code == 404
    app = Starlette(routes=[*routes(bench.home, bench.store)])
    with TestClient(guarded_app(bench.home, PORT, app), base_url=f"http://127.0.0.1:{PORT}") as c:
        assert c.get(f"/desk/proposal/{ITEM}/v2.pdf").status_code == 401  # no login, no PDF
