"""The CLI on typer + rich, in process (main([...]) as the console script calls it): tables a
person reads, --json unchanged for scripts, confirmations, $EDITOR, errors, completion."""

import io
import json
import re
import stat
import subprocess
import sys

import pytest
from support import batch_assets

import opsbench.cli.core
from opsbench.cli import main
from opsbench.cli.completion import complete_item_ids

ITEM_KEYS = {
    "id",
    "source",
    "batch",
    "sender",
    "subject",
    "category",
    "state",
    "reason_code",
    "reason",
    "duplicate_of",
    "deliveries",
}
STATUS_KEYS = {
    "home",
    "model_call_latency",
    "states",
    "kill_switch",
    "budgets",
    "sensors",
    "deferred",
    "deferred_groups",
    "last_failures",
    "alerts",
    "memory",
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture
def taken_in(bench):
    """A home with the sample mail taken in (received, not yet triaged)."""
    bench.intake()
    return bench


def test_items_is_a_table_of_sender_subject_state_and_age(taken_in, capsys) -> None:
    code, out, _ = run(capsys, "items", "--home", str(taken_in.home.root))
    assert code == 0
    items = taken_in.store.items()
    assert items
    lines = out.splitlines()
    assert re.search(r"sender.*subject.*state.*age", lines[2])  # the header row
    for item in items:
        (row,) = [line for line in lines if item["id"] in line]  # one line per item
        assert item["sender"] in row and item["subject"] in row and item["state"] in row
        assert re.search(r"│ \d+[smhd] +│$", row)  # the age, last


def test_items_and_status_json_keep_their_shape(taken_in, capsys) -> None:
    root = str(taken_in.home.root)
    code, out, err = run(capsys, "items", "--home", root, "--json")
    assert code == 0 and err == ""
    records = json.loads(out)  # one JSON document, nothing else on stdout
    assert len(records) == len(taken_in.store.items())
    assert all(set(r) == ITEM_KEYS for r in records)
    assert {r["sender"] for r in records} == {i["sender"] for i in taken_in.store.items()}

    code, out, _ = run(capsys, "status", "--home", root, "--json")
    report = json.loads(out)
    assert code == 0 and set(report) == STATUS_KEYS
    assert report["states"]["received"] == len(records) and report["kill_switch"] == "off"


def test_status_text_shows_its_tables(taken_in, capsys) -> None:
    code, out, _ = run(capsys, "status", "--home", str(taken_in.home.root))
    assert code == 0
    assert "kill switch: off" in out and "budgets today (USD)" in out
    assert "model-call latency" in out  # per agent p50/p95 (none measured yet here)
    assert re.search(r"│ received +│ \d+ +│", out) and "inbox_sensor" in out


def test_kill_refuses_without_a_terminal_or_yes(bench, capsys, monkeypatch) -> None:
    monkeypatch.setattr(opsbench.cli.core, "interactive", lambda: False)
    code, out, err = run(capsys, "kill", "--home", str(bench.home.root))
    assert code == 1 and out == ""
    assert len(err.splitlines()) == 1 and "--yes" in err
    assert not bench.store.kill_switch_on()

    code, out, _ = run(capsys, "kill", "--home", str(bench.home.root), "--yes")
    assert code == 0 and json.loads(out) == {"kill_switch": "on"}
    assert bench.store.kill_switch_on()


@pytest.mark.parametrize(("answer", "on"), [("y\n", True), ("n\n", False)])
def test_kill_asks_a_person_first(bench, capsys, monkeypatch, answer, on) -> None:
    monkeypatch.setattr(opsbench.cli.core, "interactive", lambda: True)
    monkeypatch.setattr(sys, "stdin", io.StringIO(answer))
    code, _, err = run(capsys, "kill", "--home", str(bench.home.root))
    assert "Stop every model call and send" in err  # asked on stderr, never on stdout
    assert (code, bench.store.kill_switch_on()) == ((0, True) if on else (1, False))


def test_erase_refuses_without_yes_and_keeps_everything(taken_in, capsys, monkeypatch) -> None:
    monkeypatch.setattr(opsbench.cli.core, "interactive", lambda: False)
    contact = "priya@harbourbakery.example"
    before = taken_in.store.items_of_contact(contact)
    assert before
    code, out, err = run(
        capsys, "erase", "--contact", contact, "--home", str(taken_in.home.root), "--json"
    )
    assert code == 1 and out == "" and "erase not confirmed" in err
    assert taken_in.store.items_of_contact(contact) == before


@pytest.fixture
def held(bench, monkeypatch):
    """A home with replies the policy holds for the owner; the first held item's id."""
    key = bench.intake()
    assert bench.materialize(batch_assets(), key).success
    (first, *_) = bench.store.items(states=["awaiting_approval"])
    return first["id"]


def _editor(tmp_path, monkeypatch, script: str) -> None:
    editor = tmp_path / "editor.sh"
    editor.write_text(f"#!/bin/sh\n{script}\n")
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("EDITOR", str(editor))
    monkeypatch.delenv("VISUAL", raising=False)


def test_approve_edit_without_a_file_opens_the_editor_on_the_draft(
    bench, held, capsys, monkeypatch, tmp_path
) -> None:
    from ops_assets.governance.controls import final_draft

    seen = tmp_path / "seen.txt"
    body = "Hi, thanks for writing. I have fixed it and checked it twice. Alex"
    _editor(tmp_path, monkeypatch, f'cp "$1" "{seen}"\nprintf "{body}\\n" > "$1"')
    draft = final_draft(bench.store, held)["output"]["body"]
    code, out, err = run(capsys, "approve", held, "--edit", "--home", str(bench.home.root))
    assert code == 0, err
    assert seen.read_text().rstrip("\n") == draft  # the editor opened on the held draft
    assert json.loads(out)["item"] == held
    assert final_draft(bench.store, held)["output"]["body"] == body
    assert bench.store.get_item(held)["state"] == "approved"


def test_an_editor_closed_without_saving_approves_nothing(
    bench, held, capsys, monkeypatch, tmp_path
) -> None:
    _editor(tmp_path, monkeypatch, "true")
    code, out, err = run(capsys, "approve", held, "--home", str(bench.home.root), "--edit")
    assert code == 1 and out == "" and "not saved" in err
    assert bench.store.get_item(held)["state"] == "awaiting_approval"


def test_approve_edit_with_a_file_works_as_before(bench, held, capsys, tmp_path) -> None:
    from ops_assets.governance.controls import final_draft

    body = tmp_path / "body.txt"
    body.write_text("Hi, it is fixed now; I checked the login myself this morning. Alex\n")
    code, _, err = run(capsys, "approve", held, "--edit", str(body), "--home", str(bench.home.root))
    assert code == 0, err
    assert final_draft(bench.store, held)["output"]["body"] == body.read_text().strip()


def test_an_unexpected_error_is_one_line_and_debug_shows_the_traceback(
    bench, capsys, monkeypatch
) -> None:
    import opsbench.status

    def broken(*_: object) -> None:
        raise RuntimeError("the sensors table\nis unreadable")

    monkeypatch.setattr(opsbench.status, "status", broken)
    code, out, err = run(capsys, "status", "--home", str(bench.home.root))
    assert code == 1 and out == ""
    assert err == "error: RuntimeError: the sensors table is unreadable\n"

    code, _, err = run(capsys, "status", "--home", str(bench.home.root), "--debug")
    assert code == 1 and "Traceback (most recent call last)" in err and "broken" in err
    assert err.splitlines()[-1] == "error: RuntimeError: the sensors table is unreadable"


def test_usage_and_known_errors_keep_their_exit_codes_on_one_line(bench, capsys) -> None:
    code, _, err = run(capsys, "items", "--bogus")
    assert code == 2 and len(err.splitlines()) == 1 and "--bogus" in err
    code, _, err = run(capsys, "delivery", "itm_x", "--home", str(bench.home.root))
    assert code == 2 and "--was-sent" in err
    code, _, err = run(capsys, "show", "itm_nope", "--home", str(bench.home.root))
    assert (code, err) == (1, "no item itm_nope\n")


class _Context:
    def __init__(self, params: dict[str, object]) -> None:
        self.params = params


def test_item_completion_offers_the_stores_ids_and_fails_silently(taken_in, tmp_path) -> None:
    ids = sorted(i["id"] for i in taken_in.store.items())
    root = str(taken_in.home.root)
    assert sorted(complete_item_ids(_Context({"home": root}), "")) == ids
    assert complete_item_ids(_Context({"home": root}), ids[0][:12]) == [
        i for i in ids if i.startswith(ids[0][:12])
    ]
    assert complete_item_ids(_Context({"home": str(tmp_path / "nowhere")}), "") == []
    assert not (tmp_path / "nowhere").exists()  # completing never creates a home
    assert complete_item_ids(object(), "") == []  # no params at all: the environment's home


def test_the_shell_asks_and_gets_item_ids(taken_in) -> None:
    """What a completion script does: the program itself answers on stdout."""
    ids = {i["id"] for i in taken_in.store.items()}
    root = str(taken_in.home.root)
    done = subprocess.run(
        [sys.executable, "-m", "opsbench.cli"],
        env={
            **__import__("os").environ,
            "_OPSBENCH_COMPLETE": "complete_bash",
            "COMP_WORDS": f"opsbench show --home {root} itm_",
            "COMP_CWORD": "4",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert set(done.stdout.split()) == ids, done.stderr
