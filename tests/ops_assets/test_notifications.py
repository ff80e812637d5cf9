"""The owner's digest against a real SMTP server and a real HTTP receiver on 127.0.0.1: one
digest for a burst, none more within the interval, once through the ledger across a crash,
and never a secret (subjects redacted in the mail; the webhook carries ids and codes only)."""

import datetime as dt
import email
import email.policy
import json
from pathlib import Path

import dagster as dg
import pytest
import yaml
from support import HookServer, SmtpSink, json_mail, write_config

from ops_assets.observability import notifications
from ops_assets.observability.alerts import write_alert
from resources.settings.config import load_config
from resources.store import Store
from sensors.notifications import notifications_sensor

SECRET = "sk-" + "Q" * 30


def _config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **notify: object) -> Path:
    path = tmp_path / "config.yaml"
    write_config(path, smtp=notify.pop("smtp", {}))
    config = yaml.safe_load(path.read_text())
    config["notifications"] = {"digest_minutes": 15, **notify}
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(path))
    return path


def _waiting(bench, folder: Path, count: int, prefix: str = "mail") -> list[str]:
    """`count` mails taken in and handed to the owner (one subject carries a secret)."""
    files = [
        json_mail(
            folder,
            f"{prefix}-{n}",
            f"client{n}@example{n}.com",
            f"Quote for project {prefix} {n}" + (f" api_key={SECRET}" if n == 0 else ""),
            "Please send us a quote.",
        )
        for n in range(count)
    ]
    bench.intake(files)
    ids = [i["id"] for i in bench.store.items(states=["received"])]
    for item_id in ids:
        bench.store.transition(
            item_id, "awaiting_human", actor="test", reason_code="route_human", reason="sales"
        )
    return ids


def _tick(bench) -> dg.SkipReason:
    with dg.build_sensor_context(instance=bench.instance, resources=bench.resources) as context:
        return notifications_sensor(context)


def _texts(sink: SmtpSink) -> list[str]:
    return [
        str(email.message_from_bytes(m, policy=email.policy.default).get_body().get_content())  # type: ignore[union-attr]
        for m in sink.messages
    ]


def test_a_burst_of_waiting_items_makes_one_digest_and_the_interval_holds_the_next(
    bench, tmp_path, monkeypatch
) -> None:
    with SmtpSink() as sink, HookServer() as hook:
        _config(
            tmp_path,
            monkeypatch,
            smtp={"enabled": True, "port": sink.port},
            webhook_url=hook.url,
            console_url="http://127.0.0.1:3999/desk",
        )
        ids = _waiting(bench, tmp_path / "burst", 5)
        _tick(bench)
        assert len(sink.messages) == 1 and sum(hook.effects.values()) == 1
        (text,) = _texts(sink)
        assert "http://127.0.0.1:3999/desk" in text and "Waiting for you (5)" in text
        assert all(i in text for i in ids) and "Quote for project mail 3" in text
        assert SECRET not in text and "[redacted]" in text
        message = email.message_from_bytes(sink.messages[0])
        assert message["To"] == load_config().identity.owner_addresses[0]
        assert "5 waiting for you" in str(message["Subject"])

        # The next tick, within the interval: nothing, even with something new waiting.
        assert "less than 15 min" in str(_tick(bench).skip_message)
        (late,) = _waiting(bench, tmp_path / "later", 1, prefix="late")
        _tick(bench)
        assert len(sink.messages) == 1 and sum(hook.requests.values()) == 1

        # Past the interval: one more digest, with only what is new since the first.
        st, home = bench.store, bench.home
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
        assert notifications.send_digest(st, home, load_config(), now=later).sent
        assert len(sink.messages) == 2
        second = _texts(sink)[1]
        assert late in second and "Waiting for you (1)" in second and ids[1] not in second
        # ...and then nothing new: nothing sent.
        even_later = later + dt.timedelta(minutes=16)
        outcome = notifications.send_digest(st, home, load_config(), now=even_later)
        assert not outcome.sent and len(sink.messages) == 2


def test_the_webhook_gets_ids_counts_and_codes_but_no_subject_or_secret(
    bench, tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("OPSBENCH_NOTIFY_WEBHOOK_SECRET", "hook-token-" + "z" * 20)
    with HookServer() as hook:
        _config(tmp_path, monkeypatch, webhook_url=hook.url)  # SMTP off: mail to a file
        ids = _waiting(bench, tmp_path / "burst", 3)
        write_alert(bench.home, "run_failure", run_id="run-123", job="batch", message="boom")
        _tick(bench)
        (body,) = hook.bodies
    sent = json.loads(body)
    assert sent["counts"] == {"escalation": 3, "failure": 1} and sent["total"] == 4
    assert "4 new for you" in sent["text"] and sent["console_url"] in sent["text"]
    entries = {e["id"]: e["reason_code"] for e in sent["entries"]}
    assert entries == {**dict.fromkeys(ids, "route_human"), "run-123": "run_failure"}
    raw = body.decode()
    assert SECRET not in raw and "Quote for project" not in raw and "boom" not in raw
    assert hook.authorizations == {"Bearer hook-token-" + "z" * 20}
    # The mail went to the notifications folder (SMTP is off), once.
    (mail,) = (bench.home.root / "notifications").glob("*.eml")
    assert "Runs or checks failed (1)" in mail.read_text()


def test_a_crash_between_the_ledger_intent_and_the_send_sends_once_not_twice(
    bench, tmp_path, monkeypatch
) -> None:
    class Crash(BaseException):
        """The process dies here (as a power cut would), before any attempt is counted."""

    real_attempt = Store.delivery_attempt
    crashes = []

    def crash_once(self: Store, delivery_id: str, seen_attempts: int) -> bool:
        if not crashes:
            crashes.append(delivery_id)
            raise Crash
        return real_attempt(self, delivery_id, seen_attempts)

    with SmtpSink() as sink:
        _config(tmp_path, monkeypatch, smtp={"enabled": True, "port": sink.port})
        _waiting(bench, tmp_path / "burst", 5)
        monkeypatch.setattr(Store, "delivery_attempt", crash_once)
        with pytest.raises(Crash):
            _tick(bench)
        (intent,) = bench.store.all_deliveries()
        assert intent["state"] == "intent" and intent["purpose"] == "digest"
        assert sink.messages == []

        _tick(bench)  # the next tick finds the intent and sends it
        _tick(bench)  # within the interval: nothing
        later = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=16)
        notifications.send_digest(bench.store, bench.home, load_config(), now=later)
        assert len(sink.messages) == 1
        assert list(sink.message_ids().values()) == [1]
        (delivery,) = bench.store.all_deliveries()
        assert delivery["state"] == "confirmed" and delivery["attempts"] == 1


def test_a_crash_after_an_smtp_attempt_waits_as_unconfirmed_instead_of_resending(
    bench, tmp_path, monkeypatch
) -> None:
    with SmtpSink() as sink:
        _config(tmp_path, monkeypatch, smtp={"enabled": True, "port": sink.port})
        _waiting(bench, tmp_path / "burst", 2)
        digest = notifications.gather(
            bench.store, bench.home, load_config(), now=dt.datetime.now(dt.UTC)
        )
        key = notifications.ledger.delivery_id(
            digest.item_id, load_config().identity.owner_addresses[0], notifications.PURPOSE
        )
        bench.store.delivery_intent(
            {
                "id": key,
                "item_id": digest.item_id,
                "destination": load_config().identity.owner_addresses[0],
                "purpose": notifications.PURPOSE,
                "connector": "smtp",
                "content_hash": "x",
            }
        )
        assert bench.store.delivery_attempt(key, 0)  # counted; then the process died
        outcome = notifications.send_digest(bench.store, bench.home, load_config())
        assert outcome.results == {"smtp": "unconfirmed"} and sink.messages == []


def test_alerts_are_grouped_once_each_and_their_file_names_redacted(bench) -> None:
    home = bench.home
    write_alert(home, "delivery_bounced", item_id="item-b", delivery_id="dlv_b", status="5.1.1")
    write_alert(home, "mailbox_copy_failed", delivery_id="dlv_m", reason_code="imap_down")
    write_alert(home, "intake_skipped", reason_code="unreadable", source=f"token={SECRET}.eml")
    for _ in range(3):
        write_alert(home, "imap_unavailable", account="work", reason_code="imap_refused")
    write_alert(home, notifications.OWN_ALERT, delivery_id="dlv_x", code="failed")
    digest = notifications.gather(bench.store, home, load_config(), now=dt.datetime.now(dt.UTC))
    found = {g: [(e.id, e.reason_code) for e in entries] for g, entries in digest.groups.items()}
    assert found["held_send"] == [
        ("item-b", "delivery_bounced"),
        ("dlv_m", "mailbox_copy_failed"),
    ]
    assert found["intake"] == [
        ("token=[redacted].eml", "intake_skipped"),
        ("work", "imap_unavailable"),
    ]
    assert digest.total() == 4  # the digest's own failure is never a reason for a digest
