"""The owner's digest is the owner's own mail, never a client's: a digest that may not have
arrived shows in `status` as a failed notification (the text view read every alert as a
run's), not as a held send on the desk or an item in a privacy export; a digest that
arrived does not make its address's domain a client's we replied to (a known recipient
lowers the policy's holds); and its desk link follows `opsbench run --port`."""

from pathlib import Path

import pytest
import yaml
from support import SmtpSink, json_mail, write_config

from ops_assets.governance.holds import delivered_domains
from ops_assets.observability import notifications
from opsbench import workbench
from opsbench.cli.verbs.status import _status_view
from opsbench.desk import queries
from opsbench.privacy import export
from opsbench.status import status
from resources.settings.config import load_config

NOTIFY = "alerts@owner-inbox.example"


def _configure(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, port: int, **notify: object):
    path = tmp_path / "config.yaml"
    write_config(path, smtp={"enabled": True, "port": port})
    config = yaml.safe_load(path.read_text())
    config["notifications"] = {"email_to": NOTIFY, **notify}
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(path))


def _one_waiting(bench, tmp_path: Path) -> str:
    mail = json_mail(tmp_path / "in", "lead", "lead@client.example", "A quote?", "Price?")
    bench.intake([mail])
    (item,) = bench.store.items(states=["received"])
    bench.store.transition(
        item["id"], "awaiting_human", actor="test", reason_code="route_human", reason="sales"
    )
    return item["id"]


def test_a_digest_that_may_not_have_arrived_is_no_held_send(bench, tmp_path, monkeypatch):
    with SmtpSink(script=[SmtpSink.DROP]) as sink:
        _configure(tmp_path, monkeypatch, sink.port)
        waiting = _one_waiting(bench, tmp_path)
        outcome = notifications.send_digest(bench.store, bench.home, load_config())
    assert outcome.results == {"smtp": "unconfirmed"}

    # The desk: the sales mail waits; the digest is no held send.
    shown = queries.waiting(bench.store)
    assert [w["id"] for w in shown] == [waiting] and shown[0]["kind"] == "escalation"
    # status: the failed notification is an alert with its delivery, and the text view
    # renders it (it indexed every alert's run id).
    report = status(bench.home, bench.store)
    (alert,) = report["alerts"]["last"]
    assert alert["kind"] == "notification_failed" and alert["delivery_id"].startswith("dlv_")
    assert report["states"].get("awaiting_human") == 1
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(_status_view(report))
    text = console.export_text()
    assert "notification_failed" in text and alert["delivery_id"] in text
    # The privacy export of the address the digest went to: nobody's mail.
    assert export(bench.home, bench.store, NOTIFY)["items"] == []


def test_a_digest_that_arrived_makes_no_domain_a_client_one(bench, tmp_path, monkeypatch):
    with SmtpSink() as sink:
        _configure(tmp_path, monkeypatch, sink.port)
        _one_waiting(bench, tmp_path)
        outcome = notifications.send_digest(bench.store, bench.home, load_config())
        assert outcome.sent and len(sink.messages) == 1
    (row,) = bench.store.all_deliveries()
    assert row["purpose"] == "digest" and row["state"] == "confirmed"
    assert not bench.store.delivered_to_domain("owner-inbox.example")
    assert "owner-inbox.example" not in delivered_domains(bench.store)


def test_the_desk_link_follows_the_port_unless_the_config_sets_it(bench, tmp_path, monkeypatch):
    with SmtpSink() as sink:
        _configure(tmp_path, monkeypatch, sink.port)
        assert notifications.console_url(bench.store, load_config()).endswith(":3000/desk")
        workbench.record_console_url(bench.store, 8123)
        assert notifications.console_url(bench.store, load_config()) == (
            "http://127.0.0.1:8123/desk"
        )
        _one_waiting(bench, tmp_path)
        notifications.send_digest(bench.store, bench.home, load_config())
        assert b"http://127.0.0.1:8123/desk" in sink.messages[0]

        _configure(tmp_path, monkeypatch, sink.port, console_url="https://desk.example/desk")
        assert notifications.console_url(bench.store, load_config()) == (
            "https://desk.example/desk"
        )
