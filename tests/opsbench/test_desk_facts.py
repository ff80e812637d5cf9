"""Contested facts at the desk: the archivist's held-back contradiction is shown beside the
fact it contradicts, and "keep new" settles it once (the same action as `opsbench memory
resolve`)."""

import re

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient
from support import OPSBENCH, SAMPLES

from opsbench.desk.routes import routes
from opsbench.ui_server import guarded_app
from resources.settings.home import open_home
from resources.web.keys import UI_TOKEN, home_key

pytestmark = pytest.mark.slow
PORT = 8432


def test_a_contested_fact_is_settled_from_the_desk(tmp_path) -> None:
    import subprocess

    home_dir, data = tmp_path / "h", SAMPLES.parent.parent / "tests" / "data"
    for inbox in (SAMPLES, data / "memory_followup", data / "memory_contradiction"):
        args = ["demo", "--inbox", str(inbox), "--home", str(home_dir), "--llm", "scripted"]
        done = subprocess.run([*OPSBENCH, *args], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stderr
    home = open_home(home_dir)
    app = Starlette(routes=routes(home))
    with TestClient(guarded_app(home, PORT, app), base_url=f"http://127.0.0.1:{PORT}") as client:
        client.get(f"/login?token={home_key(home.root, UI_TOKEN)}")
        page = client.get("/desk").text
        card = page[page.index('data-kind="fact"') :]
        assert "email only" in card and "phone" in card
        forms = [
            dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
            for form in re.findall(r"<form.*?</form>", card, re.S)
        ]
        keep_new = next(f for f in forms if f.get("keep") == "new")
        answer = client.post("/desk/act", data=keep_new)
        assert answer.status_code == 200 and "fact: done" in answer.text
        assert 'data-kind="fact"' not in answer.text
        again = client.post("/desk/act", data={**keep_new, "nonce": "f" * 32})
        assert "not contested" in again.text
    from resources.store.resource import store_for

    resolved = store_for(home.store_url).audit_for_event("fact_resolved")
    assert [r["detail"]["keep"] for r in resolved] == ["new"]
