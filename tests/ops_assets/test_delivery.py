"""Delivery through the configured connectors: rate limits under a burst, sandbox mode, health
checks consulted before sending, refusals escalated, and a confirmation timeout."""

import json
from pathlib import Path

import pytest
from support import (
    CANARIES,
    HookServer,
    SmtpSink,
    assert_no_canary,
    batch_assets,
    permissive_policy,
    write_config,
)

from ops_assets.defs.delivery.assets import HEALTH_CHECK, delivery
from ops_assets.observability.alerts import read_alerts
from resources.llm.local_server import free_port
from sensors.outcomes import outcomes_run_key


def _mails(folder: Path, count: int) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for n in range(count):
        path = folder / f"support-{n}.json"
        path.write_text(
            json.dumps(
                {
                    "from": f"Client {n} <client{n}@example{n}.com>",
                    "subject": f"The page update number {n} is not working",
                    "body": f"Hello, the update {n} to our page is not working. Can you help?",
                }
            )
        )
        paths.append(path)
    return paths


@pytest.fixture
def approved(bench, monkeypatch, tmp_path):
    """A batch of support mails, all approved by a permissive policy, waiting for delivery."""

    def make(config: Path, count: int = 4) -> list[dict]:
        monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "policy.yaml")))
        monkeypatch.setenv("OPSBENCH_CONFIG", str(config))
        key = bench.intake(_mails(tmp_path / "mail", count))
        bench.materialize(batch_assets(), key)
        ready = bench.store.items(states=["approved"])
        assert len(ready) == count
        return ready

    return make


def _check(result):
    (check,) = [c for c in result.get_asset_check_evaluations() if c.check_name == HEALTH_CHECK]
    return check


def test_the_rate_limit_holds_under_a_burst(bench, approved, tmp_path) -> None:
    config = write_config(tmp_path / "c.yaml", outbox={"rate_per_minute": 3})
    approved(config, count=7)
    first = bench.materialize([delivery])
    (mat,) = first.asset_materializations_for_node("delivery")
    assert mat.metadata["delivered"].value == 3 and mat.metadata["rate_limited"].value == 4
    waiting = bench.store.ready_to_send()
    bench.materialize([delivery])  # the same minute: nothing more goes out
    assert len(bench.store.items(states=["delivered"])) == 3
    # Waiting items are not touched, so the outcomes sensor launches no new run for them.
    assert outcomes_run_key(bench.store.ready_to_send(), now=0) == outcomes_run_key(waiting, now=0)
    assert len(bench.store.items(states=["approved"])) == 4
    assert len(list(bench.home.outbox.iterdir())) == 3


def test_sandbox_mode_sends_nothing_outward(bench, approved, tmp_path) -> None:
    with SmtpSink() as sink, HookServer() as hook:
        config = write_config(
            tmp_path / "c.yaml",
            sandbox=True,
            smtp={"enabled": True, "port": sink.port},
            webhook={"url": hook.url},
        )
        ready = approved(config)
        result = bench.materialize([delivery])
        assert sink.messages == [] and sum(hook.requests.values()) == 0
    assert _check(result).passed
    assert len(bench.store.items(states=["delivered"])) == len(ready)
    captured = bench.home.root / "sandbox"
    assert len(list((captured / "smtp").glob("*.eml"))) == len(ready)
    assert len(list((captured / "webhook").glob("*.json"))) == len(ready)
    assert all(d["receipt"].startswith("sandbox:") for d in bench.store.all_deliveries())


def test_replies_go_by_smtp_and_outcomes_to_the_webhook_once(
    bench, approved, tmp_path, monkeypatch
) -> None:
    secret = CANARIES["OPSBENCH_WEBHOOK_SECRET"]
    monkeypatch.setenv("OPSBENCH_WEBHOOK_SECRET", secret)
    with SmtpSink() as sink, HookServer() as hook:
        config = write_config(
            tmp_path / "c.yaml",
            smtp={"enabled": True, "port": sink.port},
            webhook={"url": hook.url},
        )
        ready = approved(config)
        bench.materialize([delivery])
        bench.materialize([delivery])  # again: nothing twice
        assert len(sink.messages) == len(ready) and set(sink.message_ids().values()) == {1}
        assert sum(hook.effects.values()) == sum(hook.requests.values()) == len(ready)
        events = [json.loads(b) for b in hook.bodies]
        assert hook.authorizations == {f"Bearer {secret}"}
    assert {e["item_id"] for e in events} == {i["id"] for i in ready}
    assert all(
        set(e) == {"event", "item_id", "category", "batch", "at", "delivery_id"} for e in events
    )
    assert_no_canary(bench.home.root)  # read at send time, never written


def test_an_unhealthy_connector_sends_nothing_and_a_timeout_hands_over(
    bench, approved, tmp_path, monkeypatch
) -> None:
    config = write_config(tmp_path / "c.yaml", smtp={"enabled": True, "port": free_port()})
    ready = approved(config, count=2)
    result = bench.materialize([delivery])
    check = _check(result)
    assert not check.passed and "DOWN" in check.metadata["smtp"].value
    assert len(bench.store.items(states=["approved"])) == len(ready)

    # Past the confirmation timeout the owner gets them, with an alert each.
    write_config(config, smtp={"enabled": True, "port": free_port()}, confirm_timeout_s=0.001)
    bench.materialize([delivery])
    held = bench.store.items(states=["awaiting_human"])
    assert {i["reason_code"] for i in held} == {"delivery_timeout"} and len(held) == len(ready)
    assert [a["kind"] for a in read_alerts(bench.home)] == ["delivery_timeout"] * len(ready)


def test_a_refused_reply_escalates_and_is_not_retried(bench, approved, tmp_path) -> None:
    with SmtpSink(answer="550 mailbox unavailable") as sink:
        config = write_config(tmp_path / "c.yaml", smtp={"enabled": True, "port": sink.port})
        ready = approved(config, count=2)
        bench.materialize([delivery])
        bench.materialize([delivery])
    held = bench.store.items(states=["awaiting_human"])
    assert len(held) == len(ready) and {i["reason_code"] for i in held} == {"delivery_failed"}
    assert {d["state"] for d in bench.store.all_deliveries()} == {"failed"}
    assert all(d["attempts"] == 1 for d in bench.store.all_deliveries())
    assert [a["kind"] for a in read_alerts(bench.home)] == ["delivery_failed"] * len(ready)


def test_a_webhook_4xx_fails_without_retry_and_escalates(bench, approved, tmp_path) -> None:
    with HookServer(statuses=[400] * 10) as hook:
        config = write_config(tmp_path / "c.yaml", webhook={"url": hook.url, "backoff_s": 0})
        ready = approved(config, count=2)
        bench.materialize([delivery])
        bench.materialize([delivery])
        assert sum(hook.requests.values()) == len(ready)  # one try each, none repeated
    pushes = [d for d in bench.store.all_deliveries() if d["purpose"] == "outcome"]
    assert {d["state"] for d in pushes} == {"failed"}
    assert len(bench.store.items(states=["delivered"])) == len(ready)  # replies unaffected
    alerts = read_alerts(bench.home)
    assert [(a["kind"], a["connector"]) for a in alerts] == [("delivery_failed", "webhook")] * 2


def test_a_crash_after_a_retried_smtp_send_is_not_sent_again(bench, approved, tmp_path) -> None:
    """Transient failure (retry), then a send whose receipt is never recorded: the next drain
    must not send it a third time."""
    from ops_assets.defs.delivery import ledger
    from resources.connectors.base import ConnectorError
    from resources.connectors.smtp import SmtpConnector

    with SmtpSink() as sink:
        config = write_config(tmp_path / "c.yaml", smtp={"enabled": True, "port": sink.port})
        (item,) = approved(config, count=1)
        smtp = SmtpConnector("127.0.0.1", sink.port, timeout_s=5)

        class Down:
            name, version, can_dedupe, sandbox = "smtp", "1", False, False

            def send(self, payload, key):
                raise ConnectorError("unreachable", permanent=False)

        def deliver(connector):
            return ledger.deliver(
                bench.store,
                connector,
                item_id=item["id"],
                destination="x@example.com",
                purpose="reply",
                content_hash="h",
                payload=lambda key: (
                    f"To: x@example.com\r\nMessage-ID: <{key}@a.b>\r\n\r\nhi".encode()
                ),
                per_minute=None,
            )

        assert deliver(Down())[0] == ledger.RETRY
        real_mark = bench.store.delivery_mark
        bench.store.delivery_mark = lambda *a, **k: (_ for _ in ()).throw(SystemExit("crash"))
        with pytest.raises(SystemExit):
            deliver(smtp)  # sent, then the process dies before recording it
        bench.store.delivery_mark = real_mark
        assert deliver(smtp)[0] == ledger.UNCONFIRMED
        assert len(sink.messages) == 1


def test_switching_to_the_sandbox_never_confirms_a_real_attempt(bench, approved, tmp_path) -> None:
    from ops_assets.agents.agent_run import final_draft
    from ops_assets.defs.delivery import ledger

    config = write_config(tmp_path / "c.yaml", smtp={"enabled": True, "port": free_port()})
    (item,) = approved(config, count=1)
    to = final_draft(bench.store, item["id"])["output"]["to"]
    key = ledger.delivery_id(item["id"], to, "reply")
    bench.store.delivery_intent(
        {
            "id": key,
            "item_id": item["id"],
            "destination": to,
            "purpose": "reply",
            "connector": "smtp",
            "content_hash": "h",
        }
    )
    assert bench.store.delivery_attempt(key, 0)  # a real SMTP attempt, outcome unknown
    write_config(config, sandbox=True, smtp={"enabled": True, "port": free_port()})
    bench.materialize([delivery])
    held = bench.store.get_item(item["id"])
    assert (held["state"], held["reason_code"]) == ("awaiting_human", "delivery_unconfirmed")


def test_the_owner_decides_a_held_send_arrived_or_sends_it_again(bench, approved, tmp_path) -> None:
    from ops_assets.governance.controls import ControlError, decide_delivery

    with SmtpSink(answer="552 mailbox full") as full:
        config = write_config(tmp_path / "c.yaml", smtp={"enabled": True, "port": full.port})
        first, second = approved(config, count=2)
        bench.materialize([delivery])
    assert {i["reason_code"] for i in bench.store.items(states=["awaiting_human"])} == {
        "delivery_failed"
    }
    with pytest.raises(ControlError):
        decide_delivery(bench.store, "itm_nope", was_sent=True)

    # The owner checked: the first arrived after all; the second must go again.
    assert decide_delivery(bench.store, first["id"], was_sent=True)["state"] == "delivered"
    assert decide_delivery(bench.store, second["id"], was_sent=False)["state"] == "approved"
    with SmtpSink() as fixed:
        write_config(config, smtp={"enabled": True, "port": fixed.port})
        bench.materialize([delivery])
        assert len(fixed.messages) == 1  # only the second; the first is not sent again
    assert {i["id"] for i in bench.store.items(states=["delivered"])} == {first["id"], second["id"]}


def test_the_ledger_records_the_body_that_actually_goes_out(bench, approved, tmp_path) -> None:
    import hashlib

    from ops_assets.agents.agent_run import reviewed_draft
    from ops_assets.defs.delivery import ledger

    (item,) = approved(write_config(tmp_path / "c.yaml"), count=1)
    to = reviewed_draft(bench.store, item["id"])["output"]["to"]
    key = ledger.delivery_id(item["id"], to, "reply")
    # An intent recorded for an older body (approved, then edited before any send).
    bench.store.delivery_intent(
        {
            "id": key,
            "item_id": item["id"],
            "destination": to,
            "purpose": "reply",
            "connector": "outbox",
            "content_hash": "older-body",
        }
    )
    bench.materialize([delivery])
    (row,) = bench.store.deliveries_for(item["id"])
    body = reviewed_draft(bench.store, item["id"])["output"]["body"]
    assert row["state"] == "confirmed"
    assert row["content_hash"] == hashlib.sha256(body.encode()).hexdigest()


MAY_HAVE_ARRIVED = "may have arrived"


def test_a_stale_smtp_attempt_waits_as_maybe_arrived_never_as_a_timeout(
    bench, approved, tmp_path
) -> None:
    """An SMTP attempt without a receipt may have arrived: a timeout must not invite the owner
    to resend it as if nothing had gone out."""
    from ops_assets.agents.agent_run import final_draft
    from ops_assets.defs.delivery import ledger

    config = write_config(tmp_path / "c.yaml", smtp={"enabled": True, "port": free_port()})
    attempted, untouched = approved(config, count=2)
    to = final_draft(bench.store, attempted["id"])["output"]["to"]
    key = ledger.delivery_id(attempted["id"], to, "reply")
    row = {"id": key, "item_id": attempted["id"], "destination": to, "purpose": "reply"}
    bench.store.delivery_intent({**row, "connector": "smtp", "content_hash": "h"})
    assert bench.store.transition(attempted["id"], "sending", actor="t", expect=("approved",))
    assert bench.store.delivery_attempt(key, 0)  # then the process died mid-DATA
    write_config(config, smtp={"enabled": True, "port": free_port()}, confirm_timeout_s=0.001)
    bench.materialize([delivery])  # the server is down: only the timeout acts

    held = bench.store.get_item(attempted["id"])
    assert (held["state"], held["reason_code"]) == ("awaiting_human", "delivery_unconfirmed")
    assert MAY_HAVE_ARRIVED in held["reason"]
    (row_after,) = bench.store.deliveries_for(attempted["id"])
    assert row_after["state"] == "unconfirmed"
    timed_out = bench.store.get_item(untouched["id"])  # nothing of it went out
    assert timed_out["reason_code"] == "delivery_timeout" and "nothing" in timed_out["reason"]


@pytest.mark.parametrize(
    ("behaviour", "smtp", "in_doubt"),
    [
        ({"script": [SmtpSink.DROP]}, {}, 1),  # the line drops after the first DATA
        ({"delay_s": 2.0}, {"timeout_s": 0.5}, 2),  # every answer comes after the client gave up
    ],
)
def test_an_ambiguous_smtp_answer_waits_for_the_owner_and_is_never_resent(
    bench, approved, tmp_path, behaviour, smtp, in_doubt
) -> None:
    with SmtpSink(**behaviour) as sink:
        config = write_config(
            tmp_path / "c.yaml", smtp={"enabled": True, "port": sink.port, **smtp}
        )
        ready = approved(config, count=2)
        bench.materialize([delivery])
        bench.materialize([delivery])  # again: what may have arrived is not sent again
        sent = sink.message_ids()
    assert len(sent) == len(ready) and set(sent.values()) == {1}  # each accepted at most once
    unsure = bench.store.items(states=["awaiting_human"])
    assert len(unsure) == in_doubt
    assert {i["reason_code"] for i in unsure} == {"delivery_unconfirmed"}
    assert all(MAY_HAVE_ARRIVED in i["reason"] for i in unsure)
    assert len(bench.store.items(states=["delivered"])) == len(ready) - in_doubt
    for item in unsure:
        (row,) = bench.store.deliveries_for(item["id"])
        assert (row["state"], row["receipt"], row["attempts"]) == (
            "unconfirmed",
            "smtp_connection_lost",
            1,
        )


def test_a_451_is_retried_and_the_message_accepted_once(bench, approved, tmp_path) -> None:
    with SmtpSink(script=["451 4.7.1 greylisted, try again later"]) as sink:
        config = write_config(tmp_path / "c.yaml", smtp={"enabled": True, "port": sink.port})
        ready = approved(config, count=2)
        bench.materialize([delivery])
        assert len(bench.store.items(states=["approved"])) == 1  # the greylisted one waits
        bench.materialize([delivery])
        sent = sink.message_ids()
    assert len(sent) == len(ready) and set(sent.values()) == {1}
    assert len(bench.store.items(states=["delivered"])) == len(ready)
    attempts = sorted(d["attempts"] for d in bench.store.all_deliveries())
    assert attempts == [1, 2]


def test_a_refusal_quoting_the_address_is_kept_as_a_code(bench, approved, tmp_path) -> None:
    """The server's text names the recipient; the ledger and the append-only audit log keep
    the code only."""
    with SmtpSink(answer="550 5.1.1 <client0@example0.com>: mailbox unknown") as sink:
        config = write_config(tmp_path / "c.yaml", smtp={"enabled": True, "port": sink.port})
        (item,) = approved(config, count=1)
        bench.materialize([delivery])
    (row,) = bench.store.deliveries_for(item["id"])
    assert (row["state"], row["receipt"]) == ("failed", "smtp_550")
    audit = json.dumps(bench.store.audit_for(item["id"]))
    assert "smtp_550" in audit and "mailbox unknown" not in audit
    assert "client0@example0.com" not in audit
