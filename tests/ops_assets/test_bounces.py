"""Bounces and auto-replies linked back to what we sent (ops_assets/defs/delivery/bounces.py):
a real reply goes out through the outbox, then a DSN or an auto-reply naming its Message-ID
comes in through intake like any mail; the delivery bounces, the owner is told, follow-ups
are cancelled, and a later reply to a hard-bounced address is held."""

import datetime as dt
import email
import email.policy
import json
from pathlib import Path

import pytest
from support import batch_assets, permissive_policy, write_config

from ops_assets.defs.delivery.assets import delivery
from ops_assets.defs.delivery.bounces import read_referral
from ops_assets.observability.alerts import read_alerts
from ops_assets.orchestration.follow_ups import due, follow_up_id
from resources.store.mailbox_links import link_of, undeliverable

CLIENT = "sam@client.example"


def _mail(folder: Path, name: str, subject: str, body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(json.dumps({"from": f"Sam <{CLIENT}>", "subject": subject, "body": body}))
    return path


@pytest.fixture
def replied(bench, monkeypatch, tmp_path):
    """One support mail answered through the file outbox: (its item, our Message-ID)."""
    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "policy.yaml")))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(write_config(tmp_path / "c.yaml")))
    mail = _mail(tmp_path / "mail", "first", "The page is not working", "Hello, can you help?")
    key = bench.intake([mail])
    bench.materialize(batch_assets(), key)
    bench.materialize([delivery])
    (item,) = bench.store.items(states=["delivered"])
    (sent,) = bench.home.outbox.iterdir()
    ours = email.message_from_bytes(sent.read_bytes(), policy=email.policy.default)
    return item, str(ours["Message-ID"])


def _dsn(message_id: str, action: str = "failed", status: str = "5.1.1") -> bytes:
    return (
        "From: Mail Delivery System <MAILER-DAEMON@relay.example>\r\n"
        "To: owner@acme.example\r\nSubject: Undelivered Mail Returned to Sender\r\n"
        "Message-ID: <dsn-1@relay.example>\r\nAuto-Submitted: auto-replied\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nThe mail system could not deliver it.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\n"
        "Reporting-MTA: dns; relay.example\r\n\r\n"
        f"Final-Recipient: rfc822; {CLIENT}\r\nAction: {action}\r\nStatus: {status}\r\n\r\n"
        "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: owner@acme.example\r\nTo: {CLIENT}\r\nMessage-ID: {message_id}\r\n"
        "Subject: Re: The page is not working\r\n\r\n--b--\r\n"
    ).encode()


def _auto_reply(message_id: str) -> bytes:
    return (
        f"From: Sam <{CLIENT}>\r\nTo: owner@acme.example\r\nSubject: Out of office\r\n"
        f"Message-ID: <ooo-1@client.example>\r\nIn-Reply-To: {message_id}\r\n"
        f"References: {message_id}\r\nAuto-Submitted: auto-replied\r\n\r\n"
        "I am away until Monday.\r\n"
    ).encode()


def _arrives(bench, tmp_path: Path, name: str, raw: bytes) -> str:
    folder = tmp_path / "incoming"
    folder.mkdir(exist_ok=True)
    (folder / f"{name}.eml").write_bytes(raw)
    bench.intake([folder / f"{name}.eml"])
    (item,) = [i for i in bench.store.items() if i["source"] == f"{name}.eml"]
    return str(item["id"])


def test_a_hard_bounce_marks_the_delivery_the_address_and_tells_the_owner(
    bench, replied, tmp_path
) -> None:
    item, message_id = replied
    bounce_id = _arrives(bench, tmp_path, "bounce", _dsn(message_id))

    (row,) = bench.store.deliveries_for(item["id"])
    assert (row["state"], row["receipt"]) == ("bounced", "dsn_5.1.1")
    link = link_of(bench.store, bounce_id)
    assert link is not None and link["delivery_id"] == row["id"] and link["kind"] == "hard_bounce"
    assert undeliverable(bench.store, f"Sam <{CLIENT.upper()}>") is not None
    moved = bench.store.get_item(item["id"])
    assert (moved["state"], moved["reason_code"]) == ("awaiting_human", "delivery_bounced")
    (alert,) = [a for a in read_alerts(bench.home) if a["kind"] == "delivery_bounced"]
    assert alert["item_id"] == item["id"] and alert["undeliverable"] is True
    assert CLIENT not in json.dumps(read_alerts(bench.home))  # ids and codes, no address
    # No follow-up will be made: it is registered as cancelled under its own id.
    cancelled = bench.store.get_item(follow_up_id(item["id"]))
    assert (cancelled["state"], cancelled["reason_code"]) == ("rejected", "follow_up_cancelled")
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=30)
    assert due(bench.store, later, after_days=3) == []


def test_a_later_reply_to_a_hard_bounced_address_is_held(bench, replied, tmp_path) -> None:
    _, message_id = replied
    _arrives(bench, tmp_path, "bounce", _dsn(message_id))
    mail = _mail(tmp_path / "mail", "second", "Still broken", "The update still fails, help!")
    key = bench.intake([mail])
    bench.materialize(batch_assets(), key)
    (second,) = bench.store.items(states=["approved"])
    bench.materialize([delivery])
    held = bench.store.get_item(second["id"])
    assert (held["state"], held["reason_code"]) == ("awaiting_human", "address_undeliverable")
    assert len(list(bench.home.outbox.iterdir())) == 1  # only the first reply ever went out


def test_a_delay_or_an_auto_reply_is_a_soft_failure_and_cancels_the_follow_up(
    bench, replied, tmp_path
) -> None:
    item, message_id = replied
    delayed = _arrives(bench, tmp_path, "delayed", _dsn(message_id, "delayed", "4.4.7"))
    away = _arrives(bench, tmp_path, "away", _auto_reply(message_id))
    assert link_of(bench.store, delayed)["kind"] == "soft_failure"  # type: ignore[index]
    assert link_of(bench.store, away)["kind"] == "auto_reply"  # type: ignore[index]
    (row,) = bench.store.deliveries_for(item["id"])
    assert row["state"] == "confirmed"  # it may still arrive: nothing is taken back
    assert bench.store.get_item(item["id"])["state"] == "delivered"
    assert undeliverable(bench.store, CLIENT) is None
    assert bench.store.get_item(follow_up_id(item["id"]))["state"] == "rejected"
    soft = [a for a in read_alerts(bench.home) if a["kind"] == "delivery_soft_failure"]
    assert [a["link"] for a in soft] == ["soft_failure", "auto_reply"]
    events = [e["event"] for e in bench.store.audit_for(item["id"])]
    assert events.count("delivery_soft_failure") == 2


def test_a_replayed_registration_links_once(bench, replied, tmp_path) -> None:
    from ops_assets.defs.delivery.bounces import link_incoming

    item, message_id = replied
    bounce_id = _arrives(bench, tmp_path, "bounce", _dsn(message_id))
    link_incoming(bench.store, bench.home, bounce_id, _dsn(message_id))  # a crash replay
    assert [a["kind"] for a in read_alerts(bench.home)].count("delivery_bounced") == 1
    events = [e["event"] for e in bench.store.audit_for(item["id"])]
    assert events.count("delivery_bounced") == 1


def test_mail_that_names_no_reply_of_ours_links_nothing(bench, replied, tmp_path) -> None:
    item, message_id = replied
    foreign = _dsn("<dlv_00000000000000000000@acme.example>")
    assert read_referral(foreign) is not None  # it looks like ours, but no delivery has it
    other = _arrives(bench, tmp_path, "foreign", foreign)
    plain = _arrives(
        bench, tmp_path, "thanks", _auto_reply(message_id).replace(b"Auto-Submitted", b"X-Note")
    )
    assert link_of(bench.store, other) is None and link_of(bench.store, plain) is None
    assert bench.store.deliveries_for(item["id"])[0]["state"] == "confirmed"
    assert read_referral(_dsn(message_id, "delivered", "2.0.0")) is None


def test_a_returned_message_part_names_the_original_too() -> None:
    raw = _dsn("<x@y>").replace(
        b"Content-Type: text/rfc822-headers\r\n\r\n",
        b"Content-Type: message/rfc822\r\n\r\n"
        b"Message-ID: <dlv_0123456789abcdef0123@acme.example>\r\n",
    )
    referral = read_referral(raw)
    assert referral is not None and referral.delivery_ids == ("dlv_0123456789abcdef0123",)
    assert referral.permanent and referral.kind == "hard_bounce"


def test_a_client_reply_names_the_delivery_it_answers(bench, replied, tmp_path):
    """answered_delivery: how a workflow knows a mail answers what it sent (its thread)."""
    from resources.store.mailbox_links import answered_delivery

    item, ours = replied
    raw = (
        f"From: Sam <{CLIENT}>\r\nTo: owner@acme.example\r\nSubject: Re: The page\r\n"
        f"Message-ID: <re-1@client.example>\r\nIn-Reply-To: {ours}\r\n"
        f"References: <older@client.example> {ours}\r\n\r\nThanks, that worked.\r\n"
    ).encode()
    answer = bench.store.get_item(_arrives(bench, tmp_path, "thanks", raw))
    found = answered_delivery(bench.store, answer)
    assert found is not None and found["item_id"] == item["id"] and found["purpose"] == "reply"
    unrelated = bench.store.get_item(
        _arrives(bench, tmp_path, "other", b"From: x@y.example\r\nSubject: hi\r\n\r\nhello\r\n")
    )
    assert answered_delivery(bench.store, unrelated) is None
