"""The desk against its app behind the real guard (Starlette's TestClient): every action ends in
the right state and ledger, a repeated form acts once, a form without the session's CSRF token
or from another origin changes nothing, and hostile mail renders as text."""

import os
import re
from collections.abc import Iterator

import pytest
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Mount
from starlette.testclient import TestClient
from support import SAMPLES, batch_assets, json_mail

from ops_assets.defs.delivery.assets import delivery
from ops_assets.quality.failures import HUMAN_CORRECTION
from opsbench.desk.routes import routes
from opsbench.ui_server import guarded_app
from resources.web.keys import UI_TOKEN, home_key

PORT = 8431
HOSTILE = '<script>alert("pwned")</script><img src=x onerror="alert(1)">'


_fallback = PlainTextResponse("dagster ui stand-in")  # a response is an ASGI app


def sales_to_the_owner(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """The sample config with sales routed to the owner (the escalation these tests answer;
    the sample routes it to the proposals workflow, tests/opsbench/test_desk_proposals.py)."""
    import yaml

    from resources.settings.config import SAMPLE_CONFIG

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["routing"]["sales"] = "human"
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(path))


@pytest.fixture
def desk(bench, tmp_path, monkeypatch) -> Iterator[tuple[TestClient, object]]:
    """The sample inbox processed (approvals, an escalated sales mail, an approved reply) plus
    a hostile mail, and a logged-in client of the guarded desk."""
    sales_to_the_owner(tmp_path, monkeypatch)
    hostile = json_mail(tmp_path / "mail", "hostile", "Mallory <m@evil.example>", HOSTILE, HOSTILE)
    key = bench.intake([*sorted(SAMPLES.iterdir()), hostile])
    bench.materialize(batch_assets(), key)
    app = Starlette(routes=[*routes(bench.home, bench.store), Mount("/", app=_fallback)])
    with TestClient(guarded_app(bench.home, PORT, app), base_url=f"http://127.0.0.1:{PORT}") as c:
        landed = c.get(f"/login?token={home_key(bench.home.root, UI_TOKEN)}")
        assert landed.status_code == 200 and landed.url.path == "/desk"
        yield c, bench


def _forms(page: str, item: str, action: str) -> dict[str, str]:
    """The hidden fields of `action`'s form for `item` on the page."""
    for form in re.findall(r"<form.*?</form>", page, re.S):
        fields = dict(re.findall(r'name="(\w+)" value="([^"]*)"', form))
        if fields.get("action") == action and fields.get("item", item) == item:
            return fields
    raise AssertionError(f"no {action} form for {item}")


def _post(client: TestClient, fields: dict[str, str], **extra: str):  # type: ignore[no-untyped-def]
    return client.post("/desk/act", data={**fields, **extra})


def _item(bench, state: str, reason: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    return next(
        i for i in bench.store.items(states=[state]) if reason is None or i["reason_code"] == reason
    )


def test_the_desk_shows_what_waits_oldest_first_with_why(desk) -> None:
    client, bench = desk
    page = client.get("/desk").text
    waiting = bench.store.items(states=["awaiting_approval", "awaiting_human"])
    order = sorted(waiting, key=lambda i: (i["updated_at"], i["id"]))
    positions = [page.index(f'id="{i["id"]}"') for i in order]
    assert positions == sorted(positions) and len(positions) >= 4
    approval = _item(bench, "awaiting_approval")
    assert approval["reason_code"] in page and "USD" in page and "memory used" in page
    sales = _item(bench, "awaiting_human", "no_agent_for_category")
    card = page[page.index(f'id="{sales["id"]}"') :]
    assert "no_agent_for_category" in card[:3000] and "Write the reply myself" in card[:6000]
    assert "Dagster" in page and "/runs/" in page


def test_hostile_mail_renders_as_text(desk) -> None:
    client, _ = desk
    response = client.get("/desk")
    page = response.text
    assert "<script>" not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in page
    assert "script-src" not in response.headers["content-security-policy"]  # default 'none'
    assert response.headers["content-security-policy"].startswith("default-src 'none'")


def test_approve_once_even_when_submitted_twice(desk) -> None:
    client, bench = desk
    item = _item(bench, "awaiting_approval")
    form = _forms(client.get("/desk").text, item["id"], "approve")
    first = _post(client, form)
    assert first.status_code == 200 and "approve: done" in first.text
    assert bench.store.get_item(item["id"])["state"] == "approved"
    again = _post(client, form)
    assert "already submitted" in again.text
    approvals = bench.store.approvals_for(item["id"])
    assert [(a["decision"], a["actor"]) for a in approvals] == [("approved", "owner")]
    outcomes = [a["detail"]["outcome"] for a in bench.store.audit_for_event("desk_action")]
    assert outcomes == ["done", "repeated"]
    bench.materialize([delivery])
    assert bench.store.get_item(item["id"])["state"] == "delivered"
    assert [d["state"] for d in bench.store.deliveries_for(item["id"])] == ["confirmed"]


def test_edit_then_send_delivers_the_owners_words_and_records_the_correction(desk) -> None:
    client, bench = desk
    item = _item(bench, "awaiting_approval")
    text = "Hello,\n\nthank you: I refunded the second charge today. It shows in 3 days."
    _post(client, _forms(client.get("/desk").text, item["id"], "edit"), body=text)
    assert bench.store.get_item(item["id"])["state"] == "approved"
    assert bench.store.get_output(item["id"], "review")["output"]["body"] == text
    (correction,) = bench.store.failures(item_id=item["id"])
    assert correction["kind"] == HUMAN_CORRECTION and correction["output"]["corrected"] == text
    bench.materialize([delivery])
    sent = [p.read_text() for p in bench.home.outbox.iterdir()]
    assert sum("refunded the second charge" in text for text in sent) == 1


def test_reject_with_a_reason(desk) -> None:
    client, bench = desk
    item = _item(bench, "awaiting_approval")
    _post(client, _forms(client.get("/desk").text, item["id"], "reject"), reason="I call them")
    after = bench.store.get_item(item["id"])
    assert after["state"] == "rejected" and after["reason"] == "I call them"
    assert bench.store.approvals_for(item["id"])[-1]["note"] == "I call them"
    bench.materialize([delivery])
    assert bench.store.deliveries_for(item["id"]) == []


def test_write_it_myself_answers_an_escalated_sales_mail(desk) -> None:
    client, bench = desk
    from ops_assets.defs.crm.assets import crm

    sales = _item(bench, "awaiting_human", "no_agent_for_category")
    text = "Hi Tom,\n\nhappy to quote: a booking site like that is 4,800 EUR. Call me Monday?"
    _post(client, _forms(client.get("/desk").text, sales["id"], "reply"), body=text)
    assert bench.store.get_item(sales["id"])["state"] == "approved"
    review = bench.store.get_output(sales["id"], "review")
    assert (review["model"], review["prompt_version"], review["run_id"]) == ("owner", "owner", None)
    (correction,) = bench.store.failures(item_id=sales["id"])
    assert correction["reason"] == "owner_reply" and correction["output"]["corrected"] == text
    bench.materialize([delivery, crm])
    assert bench.store.get_item(sales["id"])["state"] == "delivered"
    (sent,) = [p.read_text() for p in bench.home.outbox.iterdir() if "4,800" in p.read_text()]
    assert sales["sender"] in sent
    (contact,) = [c for c in bench.store.contacts() if c["email"] == sales["sender"].lower()]
    assert contact["replies_sent"] == 1


def test_a_form_without_the_csrf_token_or_from_elsewhere_changes_nothing(desk) -> None:
    client, bench = desk
    item = _item(bench, "awaiting_approval")
    form = _forms(client.get("/desk").text, item["id"], "approve")
    missing = _post(client, {k: v for k, v in form.items() if k != "csrf"})
    wrong = _post(client, form, csrf="0" * 64)
    foreign = client.post("/desk/act", data=form, headers={"origin": "http://evil.example"})
    cross = client.post("/desk/act", data=form, headers={"sec-fetch-site": "cross-site"})
    assert [r.status_code for r in (missing, wrong, foreign, cross)] == [403, 403, 403, 403]
    assert bench.store.get_item(item["id"])["state"] == "awaiting_approval"
    assert bench.store.approvals_for(item["id"]) == []
    assert bench.store.audit_for_event("desk_action") == []
    # Another session's token is no good in this one.
    other = TestClient(client.app, base_url=str(client.base_url))
    other.cookies.set(f"opsbench_{PORT}", home_key(bench.home.root, UI_TOKEN))
    other.cookies.set(f"opsbench_desk_{PORT}", "another-session")
    assert other.post("/desk/act", data=form).status_code == 403
    other.close()
    assert _post(client, form).status_code == 200  # the form itself was fine
    assert bench.store.get_item(item["id"])["state"] == "approved"


def test_held_sends_arrived_or_send_again(desk) -> None:
    client, bench = desk
    ready = _item(bench, "approved")
    bench.store.transition(ready["id"], "sending", actor="delivery", expect=("approved",))
    bench.store.transition(
        ready["id"], "awaiting_human", actor="delivery", reason_code="delivery_timeout",
        reason="nothing went out", expect=("sending",),
    )  # fmt: skip
    page = client.get("/desk").text
    assert 'data-kind="held_send"' in page
    _post(client, _forms(page, ready["id"], "resend"))
    assert bench.store.get_item(ready["id"])["state"] == "approved"
    bench.materialize([delivery])
    assert bench.store.get_item(ready["id"])["state"] == "delivered"


def test_kill_resume_and_retry(desk) -> None:
    client, bench = desk
    page = client.get("/desk").text
    _post(client, _forms(page, "", "kill"))
    assert bench.store.kill_switch_on()
    page = client.get("/desk").text
    assert "kill switch ON" in page
    _post(client, _forms(page, "", "resume"))
    assert not bench.store.kill_switch_on()
    sales = _item(bench, "awaiting_human", "no_agent_for_category")
    _post(client, _forms(client.get("/desk").text, sales["id"], "retry"))
    assert bench.store.get_item(sales["id"])["state"] == "received"


def test_the_overview_counts_decisions_per_rule(desk) -> None:
    client, bench = desk
    first, second = bench.store.items(states=["awaiting_approval"])[:2]
    sales = _item(bench, "awaiting_human", "no_agent_for_category")
    page = client.get("/desk").text
    _post(client, _forms(page, first["id"], "approve"))
    _post(client, _forms(page, second["id"], "edit"), body="Hello, all sorted now. Best wishes.")
    _post(client, _forms(page, sales["id"], "reply"), body="Hello, a quote follows tomorrow. Best.")
    overview = client.get("/desk/overview")
    assert overview.status_code == 200
    rules = overview.text[overview.text.index('id="rules"') :]
    for item, column in ((first, "approved"), (second, "edited"), (sales, "written")):
        row = re.search(rf"<code>{item['reason_code']}</code>(.*?)</tr>", rules, re.S)
        assert row, item["reason_code"]
        cells = re.findall(r"<td>(\d+)</td>", row.group(1))
        index = ["auto", "approved", "edited", "written", "rejected", "forbidden"].index(column)
        assert int(cells[index]) >= 1
    failures = overview.text[
        overview.text.index('id="failures"') : overview.text.index('id="latency"')
    ]
    drafter = re.search(r">reply_draft</a></td>(.*?)</tr>", failures, re.S)
    assert drafter and re.findall(r"<td>(\d+)</td>", drafter.group(1))[-1] == "2"  # corrected
    assert 'id="budgets"' in overview.text and "daily" in overview.text
    assert 'id="latency"' in overview.text and "p50" in overview.text


def test_write_reply_refuses_what_it_must_not_send(desk) -> None:
    _, bench = desk
    from ops_assets.governance.controls import ControlError
    from ops_assets.governance.owner_reply import write_reply
    from resources.settings.config import load_config

    config = load_config()
    sales = _item(bench, "awaiting_human", "no_agent_for_category")
    sent = _item(bench, "approved")
    with pytest.raises(ControlError, match="cannot be sent"):
        write_reply(bench.store, config, sales["id"], "Here is our key sk-" + "a" * 40)
    with pytest.raises(ControlError, match="not answerable"):
        write_reply(bench.store, config, sent["id"], "Hello, this is a fine long reply.")
    with pytest.raises(ControlError, match="no item"):
        write_reply(bench.store, config, "itm_nope", "Hello, this is a fine long reply.")
    bench.store.transition(sent["id"], "sending", actor="delivery", expect=("approved",))
    bench.store.transition(
        sent["id"], "awaiting_human", actor="delivery", reason_code="delivery_unconfirmed",
        reason="may have arrived", expect=("sending",),
    )  # fmt: skip
    with pytest.raises(ControlError, match="not answerable"):  # "send again" settles it
        write_reply(bench.store, config, sent["id"], "Hello, this is a fine long reply.")
    assert bench.store.get_item(sales["id"])["state"] == "awaiting_human"
    assert bench.store.failures(item_id=sales["id"]) == []
    assert bench.store.get_output(sales["id"], "review") is None

    # One writer per item: a live writer's lock refuses a second; a dead one's is taken over.
    lock, text = f"owner_reply:{sales['id']}", "Hello, this is my own fine long reply."
    assert bench.store.acquire_lock(lock, f"{os.getpid()}:other", lambda holder: False)
    with pytest.raises(ControlError, match="being answered"):
        write_reply(bench.store, config, sales["id"], text)
    bench.store.release_lock(lock, f"{os.getpid()}:other")
    assert bench.store.acquire_lock(lock, "999999999:dead", lambda holder: False)
    assert write_reply(bench.store, config, sales["id"], text)["state"] == "approved"


def test_the_owners_reply_joins_memory_as_the_owners(desk) -> None:
    client, bench = desk
    from ops_assets.defs.memory.episodes import episodes

    sales = _item(bench, "awaiting_human", "no_agent_for_category")
    text = "Hi,\n\nthe booking site would be 4,800 EUR, ready by June. Shall we talk Monday?"
    _post(client, _forms(client.get("/desk").text, sales["id"], "reply"), body=text)
    bench.materialize([delivery])
    rows = episodes(bench.store, bench.store.get_item(sales["id"]), "memory-run")
    outcome = next(r for r in rows if r["kind"] == "outcome")
    assert text[:40] in outcome["text"] and outcome["model"] == "owner"
    assert outcome["prompt_version"] == "owner" and outcome["run_id"] == ""
    correction = next(r for r in rows if r["kind"] == "correction")
    assert correction["asset"] == "operator" and "4,800 EUR" in correction["text"]
