"""Intake sources beyond the inbox folder: Maildir, JSON work items, quarantine on disk."""

import json
import mailbox
import time

from resources.settings.config import SAMPLE_CONFIG, load_config
from sensors.intake import tick


def _config_with_maildir(tmp_path, maildir):
    path = tmp_path / "c.yaml"
    path.write_text(SAMPLE_CONFIG.read_text().replace("maildirs: []", f"maildirs: [{maildir}]"))
    return load_config(path)


def test_maildir_messages_are_claimed_like_inbox_files(bench, tmp_path) -> None:
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    box.add(
        b"From: kim@client.example\nSubject: Password reset\nMessage-ID: <k1@c>\n\n"
        b"The reset link does not work.\n"
    )
    config = _config_with_maildir(tmp_path, tmp_path / "Maildir")
    result = tick(bench.store, bench.home, config, now=time.time() + 60)
    assert result.registered == 1
    (item,) = bench.store.items()
    assert (item["sender"], item["subject"], item["kind"]) == (
        "kim@client.example",
        "Password reset",
        "eml",
    )
    assert not list((tmp_path / "Maildir" / "new").iterdir())


def test_json_items_and_unusable_input_are_kept_with_reasons(bench) -> None:
    inbox = bench.home.inbox
    (inbox / "ok.json").write_text(
        json.dumps(
            {"from": "lee@client.example", "subject": "Invoice", "body": "Where is my invoice?"}
        )
    )
    (inbox / "bad.json").write_text(json.dumps({"from": "lee@client.example"}))
    (inbox / "scan.pdf").write_bytes(b"%PDF-1.7 binary")
    result = tick(bench.store, bench.home, load_config(), now=time.time() + 60)
    assert (result.registered, result.quarantined) == (1, 2)
    by_source = {i["source"]: i for i in bench.store.items()}
    assert by_source["ok.json"]["state"] == "received"
    assert by_source["bad.json"]["reason_code"] == "invalid_json_item"
    assert by_source["scan.pdf"]["reason_code"] == "unsupported_type"
    for name in ("bad.json", "scan.pdf"):
        item = by_source[name]
        kept = bench.home.quarantine / f"{item['id']}--{name}"
        assert kept.read_bytes() == (
            (b"%PDF-1.7 binary")
            if name == "scan.pdf"
            else json.dumps({"from": "lee@client.example"}).encode()
        )
        reason = json.loads(kept.with_name(kept.name + ".reason.json").read_text())
        assert reason["reason_code"] == item["reason_code"] and reason["reason"]
