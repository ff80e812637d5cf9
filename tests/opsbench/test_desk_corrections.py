"""Proposed corrections on the desk, behind the real guard: after the owner re-categorised a
mail and the classifier was retrained on it, the same mail stored under the old category is
proposed with why; accept re-categorises it as `opsbench recategorize` does (a label for the
next training), dismiss is recorded and never proposed again; both audited, acting once."""

import re
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.routing import Route
from starlette.testclient import TestClient
from support import json_mail

from ops_assets.defs.triage import training
from ops_assets.defs.triage.corrections import recategorize
from opsbench.desk.routes import routes
from opsbench.ui_server import guarded_app
from resources.memory.embeddings import resolve
from resources.store.labels import LABEL_ASSET
from resources.web.keys import UI_TOKEN, home_key

PORT = 8433
BODY = "Hello, invoice INV-2291 was charged twice this month. Could you refund one of them?"


@pytest.fixture
def desk(bench, tmp_path) -> Iterator[tuple[TestClient, object, list[str]]]:
    files = [
        json_mail(tmp_path / "in", f"m{n}", f"c{n}@client{n}.example", "Charged twice", BODY)
        for n in range(3)
    ]
    bench.intake(files)
    ids = sorted(i["id"] for i in bench.store.items())
    for item_id in ids:
        bench.store.update_fields(item_id, category="support")  # as triage first read them
    recategorize(bench.store, ids[0], "billing")  # the owner said what this mail is
    training.fit(bench.store, resolve("hashing", home=bench.home.root), bench.home.root)
    app = Starlette(routes=[*routes(bench.home, bench.store), Route("/", lambda r: None)])
    with TestClient(guarded_app(bench.home, PORT, app), base_url=f"http://127.0.0.1:{PORT}") as c:
        c.get(f"/login?token={home_key(bench.home.root, UI_TOKEN)}")
        yield c, bench, ids


def _form(page: str, item: str, action: str) -> dict[str, str]:
    for form in re.findall(r"<form.*?</form>", page, re.S):
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
        if fields.get("action") == action and fields.get("item") == item:
            return fields
    raise AssertionError(f"no {action} form for {item}")


def test_the_same_mail_is_proposed_with_why_and_accept_recategorises_once(desk) -> None:
    client, bench, (labelled, first, second) = desk
    page = client.get("/desk").text
    assert f'id="correction-{labelled}"' not in page  # the owner's own label stands
    for item in (first, second):
        card = page[page.index(f'id="correction-{item}"') :][:2000]
        assert "support → <strong>billing</strong>" in card and "1 corrections" in card
    fields = _form(page, first, "correction_accept")
    assert fields["category"] == "billing"
    done = client.post("/desk/act", data=fields)
    assert done.status_code == 200 and "correction_accept: done" in done.text
    assert bench.store.get_item(first)["category"] == "billing"
    assert bench.store.get_output(first, LABEL_ASSET)["output"]["actor"] == "owner"
    again = client.post("/desk/act", data=fields)  # a double click
    assert "already submitted" in again.text
    events = [a["event"] for a in bench.store.audit_for(first)]
    assert events.count("recategorized") == 1 and "desk_action" in events
    assert f'id="correction-{first}"' not in client.get("/desk").text


def test_dismiss_is_recorded_and_never_proposed_again_and_a_forged_form_does_nothing(
    desk,
) -> None:
    client, bench, (_labelled, first, second) = desk
    forged = {**_form(client.get("/desk").text, second, "correction_accept"), "csrf": "forged"}
    assert client.post("/desk/act", data=forged).status_code == 403
    assert bench.store.get_item(second)["category"] == "support"

    fields = _form(client.get("/desk").text, first, "correction_dismiss")
    assert "correction_dismiss: done" in client.post("/desk/act", data=fields).text
    page = client.get("/desk").text
    assert f'id="correction-{first}"' not in page and "proposed corrections" in page
    assert bench.store.get_item(first)["category"] == "support"  # nothing changed but the "no"
