"""The owner's own word from the terminal: `reply` (through $EDITOR, a file or stdin) and
`recategorize`; and `proposals`, the proposals workflow's pipeline."""

import json
import stat

import pytest
from support import batch_assets

from opsbench.cli import main

BODY = "Hello, thanks for getting in touch. I will call you on Monday to talk it through. Alex"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def escalated(bench, tmp_path, monkeypatch):
    """An item resting with the owner (a sales mail routed to the owner; the sample config
    routes sales to the proposals workflow)."""
    import yaml

    from resources.settings.config import SAMPLE_CONFIG

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["routing"]["sales"] = "human"
    (tmp_path / "sales-to-owner.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(tmp_path / "sales-to-owner.yaml"))
    key = bench.intake()
    assert bench.materialize(batch_assets(), key).success
    waiting = bench.store.items(states=["awaiting_human"])
    assert waiting, "the sample batch leaves sales mail with the owner"
    return waiting[0]["id"]


def _editor(tmp_path, monkeypatch, script: str) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text(f"#!/bin/sh\n{script}\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)


def _sent_text(bench, item_id: str) -> dict:
    row = bench.store.get_output(item_id, "review")
    assert row is not None
    return row


def test_reply_in_the_editor_sends_the_owners_words_as_the_owners(
    bench, escalated, capsys, monkeypatch, tmp_path
) -> None:
    seen = tmp_path / "seen.txt"
    # keep the template (to see it), then write the reply above its comment lines
    _editor(tmp_path, monkeypatch, f'cp "$1" "{seen}"\nprintf "{BODY}\\n# a note\\n" > "$1"')
    code, out, err = run(capsys, "reply", escalated, "--home", str(bench.home.root))
    assert code == 0, err
    subject = bench.store.get_item(escalated)["subject"]
    assert subject in seen.read_text()  # the editor opened on the mail being answered
    assert bench.store.get_item(escalated)["state"] == "approved"
    row = _sent_text(bench, escalated)
    assert row["output"]["body"] == BODY  # comment lines dropped
    assert row["model"] == "owner" and row["prompt_version"] == "owner"
    assert json.loads(out)


def test_reply_from_a_file_and_an_unsaved_editor(
    bench, escalated, capsys, monkeypatch, tmp_path
) -> None:
    _editor(tmp_path, monkeypatch, "true")  # closed without saving
    code, out, err = run(capsys, "reply", escalated, "--home", str(bench.home.root))
    assert code == 1 and out == "" and "not saved" in err
    assert bench.store.get_item(escalated)["state"] == "awaiting_human"
    text = tmp_path / "reply.txt"
    text.write_text(BODY)
    code, _, err = run(
        capsys, "reply", escalated, "--file", str(text), "--home", str(bench.home.root)
    )
    assert code == 0, err
    assert _sent_text(bench, escalated)["output"]["body"] == BODY


def test_a_reply_to_an_item_that_waits_for_nobody_is_refused(bench, capsys, tmp_path) -> None:
    bench.intake()
    (received, *_) = bench.store.items(states=["received"])
    text = tmp_path / "reply.txt"
    text.write_text(BODY)
    code, out, err = run(
        capsys, "reply", received["id"], "--file", str(text), "--home", str(bench.home.root)
    )
    assert code == 1 and out == "" and "not answerable" in err and "\n" not in err.strip()
    assert bench.store.get_item(received["id"])["state"] == "received"


def test_recategorize_records_the_owners_label(bench, escalated, capsys) -> None:
    home = str(bench.home.root)
    code, out, err = run(capsys, "recategorize", escalated, "support", "--home", home)
    assert code == 0, err
    assert json.loads(out)["category"] == "support"
    assert bench.store.get_item(escalated)["category"] == "support"
    label = bench.store.get_output(escalated, "triage_label")
    assert label["output"]["category"] == "support" and label["prompt_version"] == "owner"
    code, _, err = run(capsys, "recategorize", escalated, "urgent", "--home", home)
    assert code == 1 and "unknown category" in err
    assert bench.store.get_item(escalated)["category"] == "support"


def test_proposals_lists_nothing_before_a_lead(bench, capsys) -> None:
    code, out, _ = run(capsys, "proposals", "--json", "--home", str(bench.home.root))
    assert code == 0 and json.loads(out) == []
    code, out, _ = run(capsys, "proposals", "--home", str(bench.home.root))
    assert code == 0 and "no proposals" in out
