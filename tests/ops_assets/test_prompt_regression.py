"""`opsbench prompts test`: a candidate prompt is replayed over the golden set and the failures
dataset, and the cases it breaks are named."""

import json
import subprocess
from typing import Any

import pytest
from support import OPSBENCH, SAMPLES, batch_assets

from ops_assets.defs.reply_draft import prompt as reply_prompt
from ops_assets.quality import regression
from resources.llm.resource import LLMResource
from resources.llm.scripted import ScriptedModel, _email_text, _field, script_reply
from resources.settings.config import load_config

NO_REFUND_RULE = (
    "- Never promise refunds, discounts, prices or dates; say the owner will confirm.\n"
)
NAME_RULE = '- If the sender\'s name is unknown, greet them with "Hello".\n'


def obedient_reply(body: dict[str, Any]) -> dict[str, Any]:
    """A model with two known weaknesses that its prompt can hold back."""
    system, email = body["messages"][0]["content"], _email_text(body)
    text = script_reply(email)["body"]
    if not _field(email, "From-Name") and "greet them with" not in system:
        text = text.replace("Hi there", "Hi [Customer Name]")
    if "Never promise refunds" not in system and "refund" in email.lower():
        text += " We will refund the second charge today."
    return {"body": text}


@pytest.fixture
def model(bench) -> ScriptedModel:
    scripted = ScriptedModel(request_scripts={"reply_draft": obedient_reply})

    class Obedient(LLMResource):
        def scripted_model(self) -> ScriptedModel:
            return scripted

    bench.resources["llm"] = Obedient(settings=bench.resources["settings"])
    return scripted


def _report(bench, candidate: regression.Prompt) -> regression.Report:
    client = bench.resources["llm"].client(bench.store, run_id=None, asset="reply_draft")
    return regression.run("reply_draft", candidate, bench.store, load_config(), client)


def _candidate(tmp_path, system: str) -> regression.Prompt:
    path = tmp_path / "candidate.txt"
    path.write_text(system)
    return regression.load_candidate("reply_draft", path)


def test_a_candidate_that_drops_a_rule_is_caught_and_the_case_named(bench, model, tmp_path):
    assert NO_REFUND_RULE in reply_prompt.SYSTEM
    report = _report(bench, _candidate(tmp_path, reply_prompt.SYSTEM.replace(NO_REFUND_RULE, "")))
    assert report.candidate != report.current
    assert report.regressions == {"golden:refund-request": "commitment"}
    assert report.candidate_passed == report.current_passed - 1
    assert "REGRESSES golden:refund-request: commitment" in report.text()


def test_a_candidate_that_fixes_a_failure_passes_with_the_improvement(bench, model, tmp_path):
    # The batch's own failures join the cases: a no-name sender drafted with a placeholder.
    key = bench.intake([SAMPLES / "support-update-page.json"])
    item = bench.store.items()[0]
    bench.store.update_fields(item["id"], sender_name="")
    bench.materialize(batch_assets(), key, raise_on_error=False)
    assert {f["reason"] for f in bench.store.failures(item_id=item["id"])} == {"placeholder"}

    improved = reply_prompt.SYSTEM.replace(NO_REFUND_RULE, NO_REFUND_RULE + NAME_RULE)
    report = _report(bench, _candidate(tmp_path, improved))
    assert report.regressions == {}
    assert sorted(report.improvements) == sorted(["golden:no-name", item["id"]])
    assert report.candidate_passed == report.cases

    # The current version's answers (and now the candidate's) come from the call ledger.
    asked = model.calls
    _report(bench, _candidate(tmp_path, improved))
    assert model.calls == asked


def test_an_unknown_agent_or_bad_candidate_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(regression.RegressionError, match="no prompt regression"):
        regression.load_candidate("delivery", None)
    bad = tmp_path / "c.yaml"
    bad.write_text("system: x\nmodel: y\n")
    with pytest.raises(regression.RegressionError, match="system"):
        regression.load_candidate("triage", bad)


@pytest.mark.slow
def test_the_cli_exits_1_on_a_regression_and_0_without(tmp_path) -> None:
    home = tmp_path / "h"

    def opsbench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*OPSBENCH, *args, "--home", str(home)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    done = opsbench("demo", "--inbox", str(SAMPLES), "--llm", "scripted")
    assert done.returncode == 0, done.stderr
    same = opsbench("prompts", "test", "triage", "--llm", "scripted", "--json")
    assert same.returncode == 0, same.stderr
    report = json.loads(same.stdout)
    assert report["regressions"] == {} and report["cases"] >= 5
    assert report["current"] == report["candidate"]

    # A template that forgets to include the email: every golden mail is mis-sorted.
    broken = tmp_path / "broken.yaml"
    broken.write_text("user: Triage this email.\n")
    worse = opsbench("prompts", "test", "triage", "--llm", "scripted", "--prompt", str(broken))
    assert worse.returncode == 1, worse.stderr
    assert "REGRESSES golden:refund-double-charge" in worse.stdout

    missing = opsbench("prompts", "test", "triage", "--llm", "scripted", "--prompt", "nope.txt")
    assert missing.returncode == 2 and "cannot read candidate prompt" in missing.stderr


def test_a_case_drafted_with_memory_replays_from_the_ledger(bench, model, tmp_path, monkeypatch):
    from support import json_mail, outcome_assets

    from ops_assets.governance.controls import reject
    from resources.memory import Memory

    policy = tmp_path / "hold-all.yaml"
    policy.write_text("actions:\n  send_reply:\n    default: needs_approval\n    rules: []\n")
    monkeypatch.setenv("OPSBENCH_POLICY", str(policy))
    ann = "Ann Lee <ann@annstudio.example>"
    first = bench.intake([json_mail(tmp_path, "a1", ann, "Booking form", "It breaks. Help?")])
    bench.materialize(batch_assets(), first)
    bench.materialize(outcome_assets())
    second = bench.intake([json_mail(tmp_path, "a2", ann, "Booking form", "Still broken?")])
    bench.materialize(batch_assets(), second)
    (item,) = bench.store.items(batch=second)
    assert bench.store.memory_context(item["id"], "reply_draft")["row_ids"]  # drafted with it
    reject(bench.store, item["id"], reason="the owner will call")  # a case for the dataset

    current = regression.current_prompt("reply_draft")
    client = bench.resources["llm"].client(bench.store, run_id=None, asset="reply_draft")
    asked = model.calls
    memory = Memory(bench.home.memory)
    report = regression.run("reply_draft", current, bench.store, load_config(), client, memory)
    assert item["id"] in [c.case_id for c in regression.cases("reply_draft", bench.store, memory)]
    assert report.regressions == {} and report.not_run == {}
    golden = len(
        [c for c in regression.cases("reply_draft", bench.store) if c.case_id.startswith("golden:")]
    )
    assert model.calls - asked == golden  # only the golden cases were never asked before
