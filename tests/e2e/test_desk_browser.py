"""The desk in a real headless Chromium (Debian's, driven by Playwright) against the guarded
app served by uvicorn on 127.0.0.1 and a real SMTP server: the owner logs in with the token
link, approves (with a double click), edits, writes their own reply to an escalated sales mail
and rejects, and each ends in the right ledger and delivery state, sent once; a hostile mail
runs nothing; a form without its CSRF token, or posted from another origin, changes nothing.
Screenshots of the desk and the overview are kept under the test's tmp folder (printed).

Dagster's own UI is a stand-in here: the real server is covered by test_web_surface.py."""

import email
import threading
import time
from collections.abc import Iterator
from email import policy as email_policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from desk_seeds import ITEM as PROPOSAL
from desk_seeds import seed_proposal
from support import SAMPLES, SmtpSink, batch_assets, json_mail, write_config

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="scripts/setup-system.sh installs chromium"),
]
HOSTILE = '<script>alert("pwned")</script><img src=x onerror="alert(1)">'


class Served:
    """An ASGI app under uvicorn on a free 127.0.0.1 port, in a thread."""

    def __init__(self, app_for_port) -> None:  # type: ignore[no-untyped-def]
        import uvicorn

        from resources.llm.local_server import free_port

        self.port = free_port()
        config = uvicorn.Config(
            app_for_port(self.port),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            ws="none",
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> "Served":
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            assert time.monotonic() < deadline and self.thread.is_alive(), "uvicorn did not start"
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


class ForeignPage:
    """Another origin on 127.0.0.1 (same site, other port): a page with a form aimed at the
    desk, carrying real hidden fields copied from it."""

    def __init__(self) -> None:
        self.html = b""
        page = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("content-type", "text/html")
                self.end_headers()
                self.wfile.write(page.html)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"

    def __enter__(self) -> "ForeignPage":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def world(bench, tmp_path, monkeypatch) -> Iterator[tuple]:
    """Samples and a hostile mail processed under the sample policy, replies by SMTP."""
    with SmtpSink() as sink:
        config = write_config(tmp_path / "c.yaml", smtp={"enabled": True, "port": sink.port})
        # Sales to the owner: the escalation this test answers (the sample routes it to the
        # proposals workflow, whose approval is the test below).
        settings = yaml.safe_load(config.read_text())
        settings["routing"]["sales"] = "human"
        config.write_text(yaml.safe_dump(settings))
        monkeypatch.setenv("OPSBENCH_CONFIG", str(config))
        hostile = json_mail(
            tmp_path / "mail", "hostile", "Mallory <m@evil.example>", HOSTILE, HOSTILE
        )
        key = bench.intake([*sorted(SAMPLES.iterdir()), hostile])
        bench.materialize(batch_assets(), key)
        yield bench, sink


def _app(bench):  # type: ignore[no-untyped-def]
    from starlette.applications import Starlette
    from starlette.responses import PlainTextResponse
    from starlette.routing import Mount

    from opsbench.desk.routes import routes
    from opsbench.ui_server import guarded_app

    stand_in = PlainTextResponse("the Dagster UI stands here")  # a response is an ASGI app
    app = Starlette(routes=[*routes(bench.home, bench.store), Mount("/", app=stand_in)])
    return lambda port: guarded_app(bench.home, port, app)


def _sent_bodies(sink: SmtpSink) -> list[str]:
    bodies = []
    for raw in sink.messages:
        message = email.message_from_bytes(raw, policy=email_policy.default)
        part = message.get_body(preferencelist=("plain",))
        bodies.append(part.get_content() if part is not None else "")  # type: ignore[union-attr]
    return bodies


def test_the_owner_works_the_desk_in_a_real_browser(world, tmp_path) -> None:
    from playwright.sync_api import sync_playwright

    from ops_assets.defs.delivery.assets import delivery
    from opsbench.ui_server import login_url

    bench, sink = world
    store = bench.store
    approvals = store.items(states=["awaiting_approval"])
    assert len(approvals) >= 3
    to_approve, to_edit, to_reject = approvals[:3]
    sales = next(i for i in store.items(states=["awaiting_human"]) if i["category"] == "sales")
    hostile = next(i for i in store.items() if i["subject"] == HOSTILE)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()
    dialogs: list[str] = []

    with Served(_app(bench)) as served, ForeignPage() as foreign, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(login_url(bench.home, served.port))
        assert page.url.endswith("/desk")
        assert page.locator(f"#{hostile['id']}").count() == 1
        # The hostile mail is text: no script element, no image, nothing ran.
        assert page.locator("script").count() == 0 and page.locator("img").count() == 0
        assert HOSTILE in page.locator(f"#{hostile['id']} pre.original").inner_text()
        page.screenshot(path=str(artifacts / "desk.png"), full_page=True)

        def card(item: dict):  # type: ignore[no-untyped-def]
            return page.locator(f"#{item['id']}")

        def done() -> str:
            return page.wait_for_selector("#note").inner_text()

        # A form without its CSRF token: refused, nothing changes.
        card(to_approve).locator("form:has(button[name=approve]) input[name=csrf]").evaluate(
            "e => e.remove()"
        )
        with page.expect_response(lambda r: "/desk/act" in r.url) as answer:
            card(to_approve).locator("button[name=approve]").click()
        assert answer.value.status == 403
        assert "csrf" in page.wait_for_selector("h1:has-text('Refused') + p").inner_text()
        assert store.get_item(to_approve["id"])["state"] == "awaiting_approval"

        # The same form, with real fields, from another origin (same site, other port).
        page.goto(f"http://127.0.0.1:{served.port}/desk")
        fields = card(to_approve).locator("form:has(button[name=approve]) input[type=hidden]")
        pairs = [(f.get_attribute("name"), f.get_attribute("value")) for f in fields.all()]
        hidden = "".join(f'<input type="hidden" name="{n}" value="{v}">' for n, v in pairs)
        foreign.html = (
            f'<form method="post" action="http://127.0.0.1:{served.port}/desk/act">{hidden}'
            '<button id="go">win a prize</button></form>'
        ).encode()
        page.goto(foreign.url)
        with page.expect_response(lambda r: "/desk/act" in r.url) as answer:
            page.click("#go")
        assert answer.value.status == 403
        assert store.get_item(to_approve["id"])["state"] == "awaiting_approval"
        assert store.approvals_for(to_approve["id"]) == []

        # Approve, with a double click: one approval.
        page.goto(f"http://127.0.0.1:{served.port}/desk")
        card(to_approve).locator("button[name=approve]").dblclick()
        assert "approve" in done()
        assert store.get_item(to_approve["id"])["state"] == "approved"

        page.goto(f"http://127.0.0.1:{served.port}/desk")
        edited = "Hello,\n\nI have checked the invoice: it is correct, the VAT line explains it."
        card(to_edit).locator("summary", has_text="Edit, then send").click()
        card(to_edit).locator("form:has(button[name=edit]) textarea").fill(edited)
        card(to_edit).locator("button[name=edit]").click()
        assert "edit: done" in done()

        mine = "Hi,\n\nthanks for asking: a booking site like that is 4,800 EUR. Call me Monday?"
        card(sales).locator("form:has(button[name=reply]) textarea").fill(mine)
        card(sales).locator("button[name=reply]").click()
        assert "reply: done" in done()

        card(to_reject).locator("summary", has_text="Reject").click()
        card(to_reject).locator("input[name=reason]").fill("I will phone them instead")
        card(to_reject).locator("button[name=reject]").click()
        assert "reject: done" in done()

        page.goto(f"http://127.0.0.1:{served.port}/desk/overview")
        assert page.locator("#rules").inner_text().count("\n") >= 2
        page.screenshot(path=str(artifacts / "overview.png"), full_page=True)
        browser.close()

    # The delivery step drains what the owner released (the approvals sensor launches it in
    # the real server), through the real SMTP server; outside Playwright's event loop.
    bench.materialize([delivery])
    bench.materialize([delivery])  # again: nothing twice

    print(f"desk screenshots: {artifacts}")
    assert dialogs == []
    assert [a["actor"] for a in store.approvals_for(to_approve["id"])] == ["owner"]
    for item in (to_approve, to_edit, sales):
        assert store.get_item(item["id"])["state"] == "delivered", item["id"]
        assert [d["state"] for d in store.deliveries_for(item["id"])] == ["confirmed"]
    assert store.get_item(to_reject["id"])["state"] == "rejected"
    assert store.deliveries_for(to_reject["id"]) == []
    assert set(sink.message_ids().values()) == {1}
    bodies = _sent_bodies(sink)
    assert sum("the VAT line explains it" in b for b in bodies) == 1
    assert sum("4,800 EUR" in b for b in bodies) == 1
    assert store.get_output(sales["id"], "review")["model"] == "owner"
    assert (artifacts / "desk.png").stat().st_size > 0
    assert (artifacts / "overview.png").stat().st_size > 0


def test_a_proposal_is_approved_and_a_proposed_correction_accepted_in_a_real_browser(
    bench, tmp_path
) -> None:
    """The proposal's card (plan, verifier rows, versions, diff) with its PDF downloaded, its
    approval, and the accept of a correction the retrained classifier proposes."""
    from playwright.sync_api import sync_playwright

    from ops_assets.defs.triage import training
    from ops_assets.defs.triage.corrections import recategorize
    from opsbench.ui_server import login_url
    from resources.memory.embeddings import resolve

    store = bench.store
    seed_proposal(store)
    body = "Hello, invoice INV-2291 was charged twice this month. Could you refund one of them?"
    mails = [
        json_mail(tmp_path / "in", f"m{n}", f"c{n}@client{n}.example", "Charged twice", body)
        for n in range(2)
    ]
    bench.intake(mails)
    labelled, proposed = sorted(i["id"] for i in store.items() if i["id"] != PROPOSAL)
    for item_id in (labelled, proposed):
        store.update_fields(item_id, category="support")
    recategorize(store, labelled, "billing")
    training.fit(store, resolve("hashing", home=bench.home.root), bench.home.root)
    artifacts = tmp_path / "artifacts"
    artifacts.mkdir()

    with Served(_app(bench)) as served, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), headless=True)
        page = browser.new_page(accept_downloads=True)
        page.goto(login_url(bench.home, served.port))
        card = page.locator(f"#{PROPOSAL}")
        assert "Proposal plan" in card.inner_text()
        assert "prices_from_catalogue" in card.locator("table.checks").first.inner_text()
        assert "+TOTAL 2900.00 EUR" in card.locator("pre.diff").first.inner_text()
        card.screenshot(path=str(artifacts / "proposal.png"))
        with page.expect_download() as download:
            card.locator("a.pdf").first.click()
        saved = artifacts / download.value.suggested_filename
        download.value.save_as(saved)
        assert saved.name == f"proposal-{PROPOSAL}-v2.pdf" and saved.read_bytes()[:4] == b"%PDF"

        card.locator("button[name=approve]").click()
        assert "approve: done" in page.wait_for_selector("#note").inner_text()

        correction = page.locator(f"#correction-{proposed}")
        assert "billing" in correction.inner_text()
        correction.locator("button[name=correction_accept]").click()
        assert "correction_accept: done" in page.wait_for_selector("#note").inner_text()
        assert page.locator(f"#correction-{proposed}").count() == 0
        page.screenshot(path=str(artifacts / "desk-after.png"), full_page=True)
        browser.close()

    print(f"desk screenshots: {artifacts}")
    assert store.get_item(PROPOSAL)["state"] == "approved"
    assert [a["actor"] for a in store.approvals_for(PROPOSAL)] == ["owner"]
    assert store.get_item(proposed)["category"] == "billing"
    assert (artifacts / "proposal.png").stat().st_size > 0
