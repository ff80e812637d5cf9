"""The agent chain, materialized in process on the scripted model."""

import json

import dagster as dg
from support import batch_assets, outcome_assets

from ops_assets.defs.reply_draft.compose import reply_recipient
from resources.memory import EPISODIC, Memory


def test_samples_flow_to_delivered_and_no_action(bench) -> None:
    key = bench.intake()
    assert bench.materialize(batch_assets(), key).success
    assert bench.materialize(outcome_assets()).success

    items = {i["source"]: i for i in bench.store.items()}
    states = {name: item["state"] for name, item in items.items()}
    allowed = ("delivered", "no_action", "awaiting_human", "awaiting_approval")
    # Sales mail goes to the proposals workflow (sample routing), whose own job moves it on.
    leads = [i for i in items.values() if i["route"] == "proposals"]
    assert leads and all((i["category"], i["state"]) == ("sales", "triaged") for i in leads)
    assert all(state in allowed for i, state in states.items() if items[i] not in leads), states
    delivered = [i for i in items.values() if i["state"] == "delivered"]
    assert delivered, states
    assert all(i["category"] in ("support", "billing") for i in delivered)
    held = [i for i in items.values() if i["state"] == "awaiting_approval"]
    assert held and all(i["reason_code"] for i in held)  # the sample policy holds some
    for item in held:
        assert not bench.store.deliveries_for(item["id"])
    for item in items.values():
        if item["category"] == "other":
            assert (item["state"], item["reason_code"]) == (
                "awaiting_human",
                "no_agent_for_category",
            )
    auto = [
        i
        for i in items.values()
        if i["reason_code"] in ("auto_reply", "bulk", "mailing_list", "spam_rule")
    ]
    assert len(auto) >= 2 and all(i["state"] == "no_action" for i in auto)

    outbox = sorted(bench.home.outbox.glob("*.eml"))
    assert len(outbox) == len(delivered)
    for item in delivered:
        (dlv,) = bench.store.deliveries_for(item["id"])
        assert dlv["state"] == "confirmed"
        text = (bench.home.outbox / f"{dlv['id']}.eml").read_text()
        assert f"Message-ID: <{dlv['id']}@" in text
        assert "Subject: Re: " in text and f"To: {reply_recipient(item)}" in text
        assert "Northwind Studio" in text  # signature from the persona

    memory = Memory(bench.home.memory).rows(EPISODIC)
    # Every item at rest is remembered (a lead waiting for its workflow is not at rest yet).
    assert {r["item_id"] for r in memory} == {i["id"] for i in items.values() if i not in leads}
    assert all(r["memory_run_id"] and r["batch"] and r["created_at"] for r in memory)
    # Whatever a model wrote carries the run, prompt version and model that wrote it.
    for row in (r for r in memory if r["kind"] == "decision"):
        assert row["run_id"] and row["prompt_version"].startswith("triage-") and row["model"]


def test_materialization_metadata_has_counts_not_text(bench) -> None:
    key = bench.intake()
    result = bench.materialize(batch_assets(), key)
    for asset in ("triage", "reply_draft"):
        (mat,) = [m for m in result.asset_materializations_for_node(asset)]
        meta = {k: v.value for k, v in mat.metadata.items()}
        for field in (
            "rows",
            "model_calls",
            "cache_hits",
            "tokens_in",
            "tokens_out",
            "cost_usd",
            "prompt_version",
            "model",
            "failures",
        ):
            assert field in meta, (asset, field)
        assert meta["model_calls"] > 0 and meta["cost_usd"] > 0
        assert meta["prompt_version"].startswith(asset)
        dumped = json.dumps(meta, default=str)
        for item in bench.store.items():
            assert item["subject"] not in dumped  # ids and counts only


def test_prompt_hash_is_the_code_version(bench) -> None:
    from location.definitions import defs
    from ops_assets.defs.reply_draft import prompt as reply_prompt
    from ops_assets.defs.review import assets as review_assets
    from ops_assets.defs.review import prompt as review_prompt
    from ops_assets.defs.triage import prompt as triage_prompt

    graph = defs.resolve_asset_graph()
    # Triage's code is its prompt and the cascade's code; the classifier it reads is upstream.
    from ops_assets.defs.triage import stages

    triage = graph.get(dg.AssetKey("triage"))
    assert triage.code_version == stages.VERSION
    assert triage.code_version.startswith(triage_prompt.VERSION + "+cascade-")
    assert dg.AssetKey("triage_classifier") in triage.parent_keys
    assert graph.get(dg.AssetKey("reply_draft")).code_version == reply_prompt.VERSION
    assert graph.get(dg.AssetKey("review")).code_version == review_assets.CODE_VERSION
    assert review_assets.CODE_VERSION != review_prompt.VERSION  # the repair prompt counts too
