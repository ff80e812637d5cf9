"""Replies in the owner's own mailbox, against a real Dovecot on 127.0.0.1: with `drafts:
true` a reply is put into Drafts instead of sent (recorded as drafted_in_mailbox, once); with
`sent_folder` every reply SMTP took is filed in Sent once — a crash after the APPEND, before
it is recorded, files nothing twice; an IMAP outage leaves it to the next drain."""

import email
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from imap_server import PASSWORD, USER, Dovecot
from support import SmtpSink, batch_assets, permissive_policy, write_config

from ops_assets.defs.delivery.assets import delivery
from ops_assets.defs.delivery.mailbox import file_in_sent
from ops_assets.observability.alerts import read_alerts
from resources.store import schema as t
from resources.store.mailbox_links import copy_of, wanted_copies

PASSWORD_ENV = "OPSBENCH_TEST_IMAP_PASSWORD"


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    with Dovecot(tmp_path / "imap") as server:
        yield server


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def _config(tmp_path: Path, port: int, account: dict, **connectors: object) -> Path:
    path = write_config(tmp_path / "c.yaml", **connectors)
    config = yaml.safe_load(path.read_text())
    config["intake"]["imap"] = [
        {
            "name": "work",
            "host": "127.0.0.1",
            "port": port,
            "tls": "none",
            "user": USER,
            "password_env": PASSWORD_ENV,
            **account,
        }
    ]
    path.write_text(yaml.safe_dump(config))
    return path


def _approved(bench, monkeypatch, tmp_path: Path, config: Path, count: int = 2) -> list[dict]:
    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "policy.yaml")))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(config))
    folder = tmp_path / "mail"
    folder.mkdir()
    for n in range(count):
        (folder / f"m{n}.json").write_text(
            json.dumps(
                {
                    "from": f"Client {n} <client{n}@example{n}.com>",
                    "subject": f"The page update number {n} is not working",
                    "body": f"Hello, the update {n} to our page is not working. Can you help?",
                }
            )
        )
    key = bench.intake(sorted(folder.iterdir()))
    bench.materialize(batch_assets(), key)
    ready = bench.store.items(states=["approved"])
    assert len(ready) == count
    return ready


def _folder(dovecot: Dovecot, folder: str) -> list[email.message.Message]:
    with dovecot.client() as client:
        client.select(folder, readonly=True)
        typ, data = client.uid("FETCH", "1:*", "(FLAGS RFC822)")
        assert typ == "OK", data
    return [_with_flags(part) for part in data if isinstance(part, tuple)]


def _with_flags(part: tuple) -> email.message.Message:
    message = email.message_from_bytes(part[1])
    message["X-Test-Flags"] = part[0].decode()
    return message


def test_drafts_mode_puts_replies_in_drafts_once_and_sends_nothing(
    bench, dovecot, tmp_path, monkeypatch
) -> None:
    dovecot.create("Drafts")
    with SmtpSink() as sink:
        config = _config(
            tmp_path, dovecot.port, {"drafts": True}, smtp={"enabled": True, "port": sink.port}
        )
        ready = _approved(bench, monkeypatch, tmp_path, config)
        bench.materialize([delivery])
        bench.materialize([delivery])  # again: nothing twice
        assert sink.messages == []  # the owner sends them from their own client
    drafts = _folder(dovecot, "Drafts")
    assert len(drafts) == len(ready)
    assert all("\\Draft" in m["X-Test-Flags"] for m in drafts)
    for item in ready:
        (row,) = bench.store.deliveries_for(item["id"])
        assert (row["state"], row["connector"]) == ("drafted_in_mailbox", "imap_drafts")
        assert row["id"] in {m["Message-ID"].strip("<>").split("@")[0] for m in drafts}
        moved = bench.store.get_item(item["id"])
        assert (moved["state"], moved["reason_code"]) == ("delivered", "drafted_in_mailbox")
    assert _folder(dovecot, "INBOX") == []


def test_replies_sent_by_smtp_are_filed_in_sent_once_even_after_a_crash(
    bench, dovecot, tmp_path, monkeypatch
) -> None:
    dovecot.create("Sent")
    with SmtpSink() as sink:
        config = _config(
            tmp_path,
            dovecot.port,
            {"sent_folder": "Sent"},
            smtp={"enabled": True, "port": sink.port},
        )
        ready = _approved(bench, monkeypatch, tmp_path, config)
        bench.materialize([delivery])
        assert len(sink.messages) == len(ready)
    sent = _folder(dovecot, "Sent")
    assert sorted(m["Message-ID"] for m in sent) == sorted(sink.message_ids())
    assert all("\\Seen" in m["X-Test-Flags"] for m in sent)
    # The bytes filed are the bytes sent.
    by_id = {str(email.message_from_bytes(m)["Message-ID"]): m for m in sink.messages}
    for message in sent:
        assert (
            message.get_payload()
            == email.message_from_bytes(by_id[message["Message-ID"]]).get_payload()
        )
    keys = [bench.store.deliveries_for(i["id"])[0]["id"] for i in ready]
    assert all(copy_of(bench.store, k) is not None for k in keys) and not wanted_copies(bench.store)

    # A crash after the APPEND, before its record: the next drain finds it and appends nothing.
    with bench.store.tx() as conn:
        conn.execute(t.controls.delete().where(t.controls.c.key.like("mailbox_copy:%")))
    filed, waiting = file_in_sent(bench.store, bench.resources["settings"], {})
    assert sorted(filed) == sorted(keys) and waiting == []
    assert len(_folder(dovecot, "Sent")) == len(ready)


def test_an_imap_outage_leaves_the_copy_to_the_next_drain(
    bench, dovecot, tmp_path, monkeypatch
) -> None:
    with SmtpSink() as sink:
        config = _config(
            tmp_path,
            dovecot.port,
            {"sent_folder": "Sent"},  # not created yet: every APPEND is refused
            smtp={"enabled": True, "port": sink.port},
        )
        (item,) = _approved(bench, monkeypatch, tmp_path, config, count=1)
        bench.materialize([delivery])
        assert len(sink.messages) == 1
    assert bench.store.get_item(item["id"])["state"] == "delivered"  # the send stands
    (alert,) = [a for a in read_alerts(bench.home) if a["kind"] == "mailbox_copy_failed"]
    key = bench.store.deliveries_for(item["id"])[0]["id"]
    assert alert["delivery_id"] == key and wanted_copies(bench.store) == [key]

    dovecot.create("Sent")
    filed, waiting = file_in_sent(bench.store, bench.resources["settings"], {})
    assert (filed, waiting) == ([key], [])
    (copy,) = _folder(dovecot, "Sent")
    sent = email.message_from_bytes(sink.messages[0])
    assert copy["Message-ID"] == sent["Message-ID"] and copy["To"] == sent["To"]
