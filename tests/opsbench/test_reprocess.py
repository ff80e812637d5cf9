"""Reprocessing past batches: an unchanged prompt costs nothing and changes nothing; a changed
prompt pays only for the requests it changed, the diff names what moved, and nothing delivered
is ever sent again."""

import functools
from typing import Any

import pandas as pd
import pytest
from support import batch_assets, outcome_assets

from ops_assets.agents.agent_run import SETTLED
from ops_assets.defs.triage import prompt as triage_prompt
from opsbench import reprocess
from resources.llm import scripted
from resources.llm.scripted import _email_text, script_triage

QUOTES_RULE = "\nQuotes are billing."


def _settled(bench) -> str:
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    bench.materialize(outcome_assets())
    return key


def _snapshot(bench) -> tuple[dict[str, str], list[str]]:
    states = {i["id"]: i["state"] for i in bench.store.items()}
    return states, sorted(p.name for p in bench.home.outbox.iterdir())


def _reprocess(bench, agent: str, key: str) -> dict[str, Any]:
    job = reprocess.plan(bench.store, agent, batches=[key], since=None)
    reprocess.run_in_process(job, bench.home)
    return reprocess.summarize(job, bench.store, bench.home)


def test_an_unchanged_prompt_reprocesses_for_free_and_changes_nothing(bench) -> None:
    key = _settled(bench)
    before = _snapshot(bench)
    summary = _reprocess(bench, "triage", key)
    assert summary["status"] == "COMPLETED" and len(summary["runs"]) == 1
    assert summary["assets"] == ["triage", "reply_draft", "review"]
    assert summary["model_calls"] == 0 and summary["cache_hits"] > 0
    assert summary["changed"] == 0 and summary["diff"] == []
    assert _snapshot(bench) == before


def test_a_changed_prompt_pays_only_for_changed_requests_and_the_diff_shows_the_flip(
    bench, monkeypatch, tmp_path
) -> None:
    import yaml

    from resources.settings.config import SAMPLE_CONFIG

    # The sales mail held by the owner (the sample routes it to the proposals workflow, where
    # it would still be in flight, and a changed category rightly sends it to the owner).
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["routing"]["sales"] = "human"
    (tmp_path / "sales-to-owner.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(tmp_path / "sales-to-owner.yaml"))
    key = _settled(bench)
    triaged_by_model = len([c for c in bench.store.ledger()[0] if c["agent"] == "triage"])
    before = _snapshot(bench)

    def obedient_triage(body: dict[str, Any]) -> dict[str, Any]:
        answer = script_triage(_email_text(body))
        if QUOTES_RULE in body["messages"][0]["content"] and answer["category"] == "sales":
            answer["category"] = "billing"
        return answer

    monkeypatch.setitem(scripted.DEFAULT_REQUEST_SCRIPTS, "triage", obedient_triage)
    changed_prompt = functools.partial(
        triage_prompt.messages, system=triage_prompt.SYSTEM + QUOTES_RULE
    )
    monkeypatch.setattr(triage_prompt, "messages", changed_prompt)

    summary = _reprocess(bench, "triage", key)
    # Every triage request changed (new system prompt); nothing downstream did.
    assert summary["model_calls"] == triaged_by_model
    (flip,) = [d for d in summary["diff"] if d["category_flip"]]
    assert (flip["category_before"], flip["category_after"]) == ("sales", "billing")
    assert flip["changed_fields"] == "category"
    assert {d["asset"] for d in summary["diff"]} == {"triage"}
    table = pd.read_parquet(summary["diff_file"])
    assert int(table["category_flip"].sum()) == 1
    # Triage never moves a resting item: the held sales mail stays with the owner.
    assert _snapshot(bench) == before


def test_changed_drafts_of_settled_items_become_proposed_corrections_not_resends(
    bench, monkeypatch, tmp_path
) -> None:
    from resources.settings.config import SAMPLE_CONFIG

    key = _settled(bench)
    _, outbox = _snapshot(bench)
    delivered = {i["id"] for i in bench.store.items() if i["state"] == "delivered"}
    # Approved or waiting for approval: what the owner saw (or the policy passed) stands too.
    settled = {i["id"] for i in bench.store.items() if i["state"] in SETTLED}
    assert delivered and settled > delivered

    def reply_in_new_voice(body: dict[str, Any]) -> dict[str, Any]:
        reply = scripted.script_reply(_email_text(body))
        if "cheerful" in body["messages"][0]["content"]:
            reply["body"] += " Have a wonderful day!"
        return reply

    config = tmp_path / "config.yaml"
    config.write_text(
        SAMPLE_CONFIG.read_text().replace("tone: ", "tone: cheerful, ", 1), encoding="utf-8"
    )
    assert "cheerful" in config.read_text()
    monkeypatch.setenv("OPSBENCH_CONFIG", str(config))
    monkeypatch.setitem(scripted.DEFAULT_REQUEST_SCRIPTS, "reply_draft", reply_in_new_voice)

    summary = _reprocess(bench, "reply_draft", key)
    assert summary["model_calls"] > 0
    corrected = {
        i["id"]
        for i in bench.store.items()
        if (i["state"], i["reason_code"]) == ("awaiting_human", "proposed_correction")
    }
    assert corrected == settled
    assert summary["proposed_corrections"] == len(settled)
    bench.materialize(outcome_assets())
    assert sorted(p.name for p in bench.home.outbox.iterdir()) == outbox


def test_reprocess_refuses_what_it_cannot_do(bench) -> None:
    with pytest.raises(reprocess.ReprocessError, match="not 'delivery'"):
        reprocess.plan(bench.store, "delivery", batches=[], since=None)
    with pytest.raises(reprocess.ReprocessError, match="no batch"):
        reprocess.plan(bench.store, "triage", batches=[], since=None)
    with pytest.raises(reprocess.ReprocessError, match="no such batch"):
        reprocess.plan(bench.store, "triage", batches=["intake-nope"], since=None)
