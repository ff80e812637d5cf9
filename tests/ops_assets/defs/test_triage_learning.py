"""The cascade as the triage asset: the classifier trained as an asset, each decision's stage
and confidence recorded, the owner's corrections as labels, the retrain sensor, and a
correction changing the next similar decision."""

import dagster as dg
import pytest
from support import batch_assets, json_mail

from ops_assets.defs.triage import cascade
from ops_assets.defs.triage.assets import triage
from ops_assets.defs.triage.corrections import recategorize
from ops_assets.defs.triage.learning import triage_classifier
from resources.store.labels import label_count, labels
from sensors.retrain import RETRAIN_AFTER, retrain_sensor


def _triage_calls(bench) -> set[str]:
    return {c["item_id"] for c in bench.store.ledger()[0] if c["agent"] == "triage"}


def _meta(result, node: str) -> dict:
    (mat,) = result.asset_materializations_for_node(node)
    return {k: v.value for k, v in mat.metadata.items()}


def _data_version(result) -> str:
    (mat,) = result.asset_materializations_for_node("triage_classifier")
    return mat.tags["dagster/data_version"]


def test_without_a_classifier_every_mail_past_the_rules_goes_to_the_model(bench) -> None:
    key = bench.intake()
    meta = _meta(bench.materialize([triage], key), "triage")
    assert meta["classifier_version"] == "none"
    ruled = {i["id"] for i in bench.store.items() if i["reason_code"] in cascade_rules()}
    others = {i["id"] for i in bench.store.items()} - ruled
    assert _triage_calls(bench) == others and meta["decided_by"]["rules"] == len(ruled)


def cascade_rules() -> set[str]:
    return {"auto_reply", "bulk", "mailing_list", "spam_rule", "bounce", "own_address"}


def test_the_classifier_decides_sure_mail_without_a_call_and_every_stage_is_recorded(
    bench,
) -> None:
    assert bench.materialize([triage_classifier]).success
    key = bench.intake()
    result = bench.materialize(batch_assets(), key)
    assert result.success
    meta = _meta(result, "triage")
    decisions = meta["decisions"]
    by_classifier = {i for i, d in decisions.items() if d["stage"] == "classifier"}
    by_model = {i for i, d in decisions.items() if d["stage"] == "model"}
    assert by_classifier and by_model
    # The model was asked for exactly the mails the classifier was unsure of (or risky ones).
    assert _triage_calls(bench) == by_model
    assert meta["classifier_version"].startswith("triage-clf-")
    assert meta["without_model"] == meta["decided_by"]["rules"] + len(by_classifier)
    for item_id in by_classifier:
        row = bench.store.get_output(item_id, "triage")
        assert row["output"]["stage"] == "classifier"
        assert row["output"]["confidence"] >= cascade.CONFIDENT
        assert row["model"] == f"classifier:{meta['classifier_version']}"
        assert row["valid"] and row["cost_usd"] == 0 and row["request_hash"] is None
        (moved,) = [
            a
            for a in bench.store.audit_for(item_id)
            if a["event"] == "state" and a["actor"] == "triage"
        ]
        assert moved["detail"]["stage"] == "classifier"
        assert moved["detail"]["confidence"] == row["output"]["confidence"]
        assert moved["detail"]["classifier"] == meta["classifier_version"]
    for item_id in by_model:
        assert bench.store.get_output(item_id, "triage")["output"]["stage"] == "model"
    # `opsbench audit` tells which stage decided, with what confidence.
    from opsbench.audit import item_story

    some = sorted(by_classifier)[0]
    story = item_story(bench.home, bench.store, some)
    assert story["triage_decision"]["stage"] == "classifier"
    assert story["triage_decision"]["confidence"] == decisions[some]["confidence"]
    # What the classifier sent on was drafted like the rest.
    drafted = [i for i in by_classifier if bench.store.get_item(i)["route"] == "reply_draft"]
    assert all(bench.store.get_output(i, "reply_draft") is not None for i in drafted)


def test_a_risky_disagreement_goes_to_the_owner(bench) -> None:
    assert bench.materialize([triage_classifier]).success
    mail = json_mail(
        bench.home.inbox.parent / "mail",
        "quote-with-money",
        "dana@example.org",
        "Quote for a new website",
        "We would like a quote for a five page website, our budget is 4,000 EUR.",
    )
    # The model is scripted to call it spam; code reads money: whether money mail is answered
    # or dropped is the owner's call when the two readings disagree on it.
    bench.script(scripts={"triage": lambda text: {**_default(text), "category": "spam"}})
    key = bench.intake([mail])
    bench.materialize([triage], key)
    (item,) = bench.store.items(batch=key)
    assert (item["state"], item["reason_code"]) == ("awaiting_human", "triage_disagreement")
    (moved,) = [a for a in bench.store.audit_for(item["id"]) if a["event"] == "state"]
    assert moved["detail"]["stage"] == "owner" and "money" in moved["detail"]["risky"]
    assert moved["detail"]["modelled"] == "spam" and moved["detail"]["classified"][0] != "spam"


def _default(text: str) -> dict:
    from resources.llm.scripted import script_triage

    return script_triage(text)


def test_a_correction_changes_the_next_similar_decision(bench) -> None:
    first = bench.materialize([triage_classifier])
    folder = bench.home.inbox.parent / "mail"
    body = "We run a referral programme for design studios and would pay a commission per client."
    one = json_mail(folder, "partner-1", "kai@partners.example", "Partner programme", body)
    key = bench.intake([one])
    bench.materialize([triage], key)
    (item,) = bench.store.items(batch=key)
    triaged = bench.store.get_output(item["id"], "triage")["output"]["category"]
    wanted = "spam" if triaged != "spam" else "other"

    answer = recategorize(bench.store, item["id"], wanted)
    assert answer["before"] == item["category"] and answer["category"] == wanted
    (label,) = labels(bench.store)
    assert (label["source"], label["category"], label["actor"]) == (
        "recategorized",
        wanted,
        "owner",
    )
    assert any(a["event"] == "recategorized" for a in bench.store.audit_for(item["id"]))

    retrained = bench.materialize([triage_classifier])
    assert _data_version(retrained) != _data_version(first)  # triage shows as stale
    two = json_mail(
        folder, "partner-2", "lee@partners.example", "Partner programme",
        body.replace("would pay", "pay"),
    )  # fmt: skip
    key = bench.intake([two])
    meta = _meta(bench.materialize([triage], key), "triage")
    (after,) = bench.store.items(batch=key)
    decision = meta["decisions"][after["id"]]
    assert (decision["stage"], after["category"]) == ("classifier", wanted)
    assert decision["classifier"] == _meta(retrained, "triage_classifier")["classifier_version"]
    assert not _triage_calls(bench) & {after["id"]}


def test_approvals_edits_rejections_and_owner_replies_are_labels(bench) -> None:
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    items = [i for i in bench.store.items() if i["category"] in ("billing", "support")]
    approved, edited, rejected, written = items[:4]
    st = bench.store
    st.record_approval(approved["id"], "approved", actor="operator", policy="operator")
    st.record_approval(edited["id"], "approved", actor="operator", policy="operator", note="edited")
    st.record_approval(rejected["id"], "rejected", actor="operator", policy="operator", note="no")
    st.record_approval(written["id"], "approved", actor="policy", policy="policy-v1", note="auto")
    assert {x["item_id"] for x in labels(st)} == {approved["id"], edited["id"], rejected["id"]}
    st.save_output(
        {
            "item_id": written["id"], "asset": "owner_reply", "output": {"body": "Done, Alex"},
            "valid": True,
        }
    )  # fmt: skip
    found = {x["item_id"]: x for x in labels(st)}
    assert found[approved["id"]]["source"] == "approved"
    assert found[approved["id"]]["category"] == approved["category"]
    assert found[edited["id"]]["source"] == "edited"
    assert found[rejected["id"]]["category"] is None  # the reply was wrong, not the category
    assert (found[written["id"]]["source"], found[written["id"]]["reply"]) == (
        "owner_reply",
        "Done, Alex",
    )
    assert all(x["ref"] and x["at"] for x in found.values())
    assert label_count(st) == 4
    # The owner's own reply as `opsbench reply` and the desk record it: an approval.
    st.record_approval(written["id"], "approved", actor="owner", policy="owner", note="owner_reply")
    assert {x["item_id"]: x for x in labels(st)}[written["id"]]["source"] == "owner_reply"


def test_the_retrain_sensor_asks_once_per_step_of_new_labels(bench) -> None:
    resources = {k: bench.resources[k] for k in ("store", "settings")}

    def tick(cursor: str | None):
        with dg.build_sensor_context(
            instance=bench.instance, cursor=cursor, resources=resources
        ) as context:
            return retrain_sensor(context)

    untrained = tick(None)
    assert [r.run_key for r in untrained.run_requests] == ["triage-classifier-first-0"]
    assert bench.materialize([triage_classifier]).success
    assert isinstance(tick(untrained.cursor), dg.SkipReason)
    key = bench.intake()
    for item in bench.store.items(batch=key)[:RETRAIN_AFTER]:
        recategorize(bench.store, item["id"], "other")
    due = tick(untrained.cursor)
    assert [r.run_key for r in due.run_requests] == [f"triage-classifier-{RETRAIN_AFTER}"]
    assert isinstance(tick(due.cursor), dg.SkipReason)


@pytest.mark.slow  # three materializations and an in-process reprocess run
def test_reprocess_shows_what_a_retrained_classifier_changes_at_no_model_cost(bench) -> None:
    from support import outcome_assets

    from opsbench import reprocess
    from resources.store.states import RESTING

    bench.materialize([triage_classifier])
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    bench.materialize(outcome_assets())
    support = next(
        i
        for i in bench.store.items(batch=key)
        if i["category"] == "support" and "money" not in cascade.risky_reading(i)
    )
    recategorize(bench.store, support["id"], "other")
    bench.materialize([triage_classifier])
    calls_before = len(bench.store.ledger()[0])
    stage_before = {
        i["id"]: row["output"]["stage"]
        for i in bench.store.items(batch=key)
        if (row := bench.store.get_output(i["id"], "triage")) is not None
    }

    job = reprocess.plan(bench.store, "triage", batches=[key], since=None)
    reprocess.run_in_process(job, bench.home)
    summary = reprocess.summarize(job, bench.store, bench.home)
    assert summary["status"] == "COMPLETED"
    # Unchanged requests come from the ledger: the model is paid only for a mail the retrained
    # classifier gave back to it, or a draft whose triage changed.
    new_calls = bench.store.ledger()[0][calls_before:]
    given_back = {i for i, stage in stage_before.items() if stage == "classifier"}
    assert {c["item_id"] for c in new_calls if c["agent"] == "triage"} <= given_back
    triage_diffs = {d["item_id"]: d for d in summary["diff"] if d["asset"] == "triage"}
    assert set(triage_diffs) <= given_back | {support["id"]}
    assert {c["item_id"] for c in new_calls} <= set(triage_diffs)
    flip = triage_diffs[support["id"]]
    assert (flip["category_before"], flip["category_after"]) == ("support", "other")
    assert flip["stage_after"] == "classifier"
    assert bench.store.get_item(support["id"])["state"] in RESTING


def test_triage_prompts_carry_the_owners_confirmed_examples_chosen_and_recorded(bench) -> None:
    folder = bench.home.inbox.parent / "mail"
    body = "Our office printer shows a paper jam error on the website status page."
    one = json_mail(folder, "printer-1", "ida@printco.example", "Printer status page", body)
    key = bench.intake([one])
    bench.materialize([triage], key)
    (first,) = bench.store.items(batch=key)
    recategorize(bench.store, first["id"], "other")

    seen: list[list[dict]] = []

    def capture(request: dict) -> dict:
        from resources.llm.scripted import _email_text

        seen.append(request["messages"])
        return _default(_email_text(request))

    bench.script(request_scripts={"triage": capture})
    two = json_mail(folder, "printer-2", "ida@printco.example", "Printer status page again", body)
    key = bench.intake([two])
    meta = _meta(bench.materialize([triage], key), "triage")
    (second,) = bench.store.items(batch=key)
    (messages,) = seen
    shown = [m["content"] for m in messages if "How the owner sorted" in m["content"]]
    assert len(shown) == 1 and "other (the owner's word)" in shown[0]
    assert meta["examples"] == 1
    record = bench.store.memory_context(second["id"], "triage:examples")
    assert record["row_ids"] == [f"label:{first['id']}"]
    assert bench.store.get_output(second["id"], "triage")["memory_ids"] == record["row_ids"]


def test_a_prompt_without_examples_is_the_request_it_always_was() -> None:
    from ops_assets.defs.reply_draft import prompt as reply_prompt
    from ops_assets.defs.triage import prompt as triage_prompt
    from resources.settings.config import load_config

    config, mail = load_config(), {"sender": "a@b.example", "subject": "Hi", "body": "Hello"}
    plain = triage_prompt.messages(mail, config)
    assert len(plain) == 2 and len(triage_prompt.messages(mail, config, examples="- x")) == 3
    triage_row = {"category": "support", "summary": "hi"}
    assert len(reply_prompt.messages(mail, triage_row, config)) == 2
    assert len(reply_prompt.messages(mail, triage_row, config, examples="- x")) == 3


def test_drafting_prompts_carry_the_reply_the_owner_gave_to_similar_mail(bench) -> None:
    from ops_assets.governance.owner_reply import write_reply
    from resources.llm.scripted import _email_text, script_reply
    from resources.settings.config import load_config

    key = bench.intake()  # the sample mail: the policy holds some replies for the owner
    assert bench.materialize(batch_assets(), key).success
    first = bench.store.items(states=["awaiting_approval"])[0]
    reply = "Hello, thanks for the details; it is sorted now, please try again. Alex"
    write_reply(bench.store, load_config(), first["id"], reply)

    seen: list[list[dict]] = []

    def capture(request: dict) -> dict:
        seen.append(request["messages"])
        return script_reply(_email_text(request))

    bench.script(request_scripts={"reply_draft": capture})
    folder = bench.home.inbox.parent / "mail"
    again = f"{first['body']}\n\nWriting again: any news on this?"
    two = json_mail(folder, "again", first["sender"], "Re: " + first["subject"], again)
    key = bench.intake([two])
    assert bench.materialize(batch_assets(), key).success
    (second,) = bench.store.items(batch=key)
    assert seen, f"the second mail was drafted (it rests {second['state']})"
    shown = " ".join(m["content"] for m in seen[0])
    assert "approved reply: " + reply in shown
    record = bench.store.memory_context(second["id"], "reply_draft:examples")
    assert f"label:{first['id']}" in record["row_ids"]
    drafted = bench.store.get_output(second["id"], "reply_draft")
    assert set(record["row_ids"]) <= set(drafted["memory_ids"])
