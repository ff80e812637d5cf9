"""The client's answer to a proposal moves the deal (issue 18 §2): accepted -> won and the
owner told, declined, a question for the owner, an auto-reply that is no answer, and a request
for changes -> a new version priced from the catalogue by code (whatever the client or the
model asks), linked to the one it revises, with a diff. The answers are seeded as triage
routes them (`triaged`, route `proposals`, sent_proposals.py) so these tests stand apart from
triage; test_replies_triage.py goes through triage once."""

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml
from sent_proposals import client_answer, draft_answer, send_proposal

from ops_assets.defs.proposals.catalogue import SAMPLE_CATALOGUE, load_catalogue
from ops_assets.defs.proposals.deals import deal_of
from ops_assets.defs.proposals.replies import expectations
from ops_assets.defs.proposals.replies.answers import not_an_answer
from ops_assets.defs.proposals.replies.contract import ClientAnswer
from resources.memory import EPISODIC, MemoryResource
from resources.store import proposals as rows

CATALOGUE = load_catalogue(SAMPLE_CATALOGUE)
GOLDEN = Path(__file__).parents[3] / "ops_assets/defs/proposals/replies/golden.yaml"


def reader(outcome: str, changes: list[str] | None = None):
    def answer(body: dict[str, Any]) -> dict[str, Any]:
        return {"outcome": outcome, "changes": changes or [], "summary": f"The client: {outcome}."}

    return answer


def assets() -> list:
    from ops_assets.defs.proposals.replies.assets import proposal_answer

    return [proposal_answer]


def episodes(bench) -> list[dict]:
    mem = MemoryResource(settings=bench.resources["settings"]).get(bench.store)
    return [r for r in mem.rows(EPISODIC) if r["kind"] == "proposal_outcome"]


def test_an_acceptance_wins_the_deal_and_waits_for_the_owner(bench) -> None:
    sent = send_proposal(bench.store)
    answer = client_answer(bench.store, sent, "Looks great, we accept. When can you start?")
    model = bench.script(request_scripts={"proposal_answer": reader("accepted")})
    assert bench.materialize(assets()).success

    deal = deal_of(bench.store, answer["id"])
    assert deal is not None and deal["source_item_id"] == sent.lead["id"]  # the lead's deal
    assert (deal["stage"], deal["amount"]) == ("accepted", "5700.00 EUR")
    item = bench.store.get_item(answer["id"])
    assert (item["state"], item["reason_code"]) == ("awaiting_human", "proposal_accepted")
    assert model.calls == 1
    (episode,) = episodes(bench)
    assert episode["item_id"] == sent.lead["id"] and episode["state"] == "accepted"
    assert "5700.00 EUR" in episode["text"] and "ended accepted" in episode["text"]

    assert bench.materialize(assets()).success  # nothing left to read, nothing written twice
    assert model.calls == 1 and len(episodes(bench)) == 1


def test_a_decline_closes_the_deal_and_a_question_only_reaches_the_owner(bench) -> None:
    first = send_proposal(bench.store, "one")
    second = send_proposal(bench.store, "two")
    no = client_answer(bench.store, first, "Thanks, but we will not go ahead.", "no")
    ask = client_answer(bench.store, second, "Can we pay in two instalments?", "ask")

    def read(body: dict[str, Any]) -> dict[str, Any]:
        text = body["messages"][-1]["content"]
        return reader("declined" if "not go ahead" in text else "question")(body)

    bench.script(request_scripts={"proposal_answer": read})
    assert bench.materialize(assets()).success
    assert deal_of(bench.store, no["id"])["stage"] == "declined"
    assert bench.store.get_item(no["id"])["reason_code"] == "proposal_declined"
    assert deal_of(bench.store, ask["id"])["stage"] == "proposal_sent"  # a question moves none
    assert bench.store.get_item(ask["id"])["reason_code"] == "proposal_question"
    assert [e["state"] for e in episodes(bench)] == ["declined"]


def test_an_auto_reply_is_no_answer_and_costs_no_call(bench) -> None:
    sent = send_proposal(bench.store)
    away = client_answer(
        bench.store, sent, "I am out of the office until Monday.",
        headers={"Auto-Submitted": "auto-replied"},
    )  # fmt: skip
    model = bench.script(request_scripts={"proposal_answer": reader("accepted")})
    assert bench.materialize(assets()).success
    item = bench.store.get_item(away["id"])
    assert (item["state"], item["reason_code"]) == ("no_action", "auto_reply")
    assert deal_of(bench.store, away["id"])["stage"] == "proposal_sent"
    assert model.calls == 0


def test_a_revision_request_is_a_new_version_priced_by_the_catalogue(bench) -> None:
    sent = send_proposal(bench.store)
    answer = client_answer(
        bench.store, sent, "Please redo it with four pages, and give us 90% off or we walk."
    )
    asked: list[str] = []

    def drafter(body: dict[str, Any]) -> dict[str, Any]:
        asked.append(body["messages"][-1]["content"])
        # The model takes the client's side: fewer pages, and its own "price".
        return draft_answer(lines=[{"code": "WEB-PAGE", "quantity": 4, "unit_price": 45.0}])

    bench.script(
        request_scripts={
            "proposal_answer": reader("revision_requested", ["Four pages.", "90% off."]),
            "proposal_draft": drafter,
        }
    )
    assert bench.materialize(assets()).success

    (prompt,) = asked
    assert "<<<UNTRUSTED_CHANGES" in prompt and "90% off" in prompt
    assert deal_of(bench.store, answer["id"])["stage"] == "revision_requested"
    assert bench.store.get_item(answer["id"])["state"] == "drafted"
    new = rows.latest(bench.store, answer["id"])
    assert new is not None and (new["version"], new["status"]) == (1, "drafted")
    (line,) = new["lines"]
    web = CATALOGUE.service("WEB-PAGE")
    assert Decimal(line["unit_price"]) == web.unit_price and line["quantity"] == 4
    assert Decimal(str(new["total"])) == web.unit_price * 4
    assert new["corrections"][0]["model"] == "45.0"  # the model's price, recorded and ignored
    assert (
        rows.plan(bench.store, answer["id"])
        == [
            {**s, "item_id": answer["id"], "prompt_version": s["prompt_version"]}
            for s in rows.plan(bench.store, answer["id"])
        ]
        and len(rows.plan(bench.store, answer["id"])) == 3
    )  # the plan it is verified against

    assert rows.revised_version(bench.store, answer["id"], 1)["item_id"] == sent.lead["id"]
    assert [v["item_id"] for v in rows.history(bench.store, answer["id"])] == [
        sent.lead["id"],
        answer["id"],
    ]
    diff = rows.diff(bench.store, answer["id"], 1)
    assert f"--- {sent.lead['id']} v1 (lines)" in diff
    assert "-WEB-PAGE  6 page x 450.00 = 2700.00" in diff
    assert "+WEB-PAGE  4 page x 450.00 = 1800.00" in diff
    assert "-TOTAL 5700.00 EUR" in diff and "+TOTAL 1800.00 EUR" in diff
    assert rows.get_version(bench.store, sent.lead["id"], 1)["status"] == "sent"  # old kept


@pytest.mark.parametrize("outcome", ["accepted", "revision_requested"])
def test_a_crash_between_the_deal_and_the_item_resumes_without_a_second_call(
    bench, monkeypatch: pytest.MonkeyPatch, outcome: str
) -> None:
    from ops_assets.defs.proposals.replies import settle

    sent = send_proposal(bench.store)
    answer = client_answer(bench.store, sent, "Yes, with four pages please.")
    model = bench.script(
        request_scripts={
            "proposal_answer": reader(
                outcome, ["Four pages."] if outcome == "revision_requested" else None
            ),
            "proposal_draft": lambda body: draft_answer(),
        }
    )

    def power_cut(*args: Any, **kwargs: Any) -> bool:
        raise RuntimeError("power cut after the deal moved")

    # accepted: dies before the item moves; a revision: after its version, before the link.
    target = (settle, "to_owner") if outcome == "accepted" else (settle.rows, "link_revision")
    with monkeypatch.context() as patched:
        patched.setattr(*target, power_cut)
        assert not bench.materialize(assets(), raise_on_error=False).success
    assert deal_of(bench.store, answer["id"])["stage"] == outcome
    assert bench.store.get_item(answer["id"])["state"] == "triaged"
    paid = model.calls

    assert bench.materialize(assets()).success
    assert model.calls == paid  # the answer (and the revision) came from the call ledger
    item = bench.store.get_item(answer["id"])
    if outcome == "accepted":
        assert item["reason_code"] == "proposal_accepted"
    else:
        assert item["state"] == "drafted"
        assert len(rows.all_versions(bench.store, answer["id"])) == 1
        assert rows.revised_version(bench.store, answer["id"], 1)["item_id"] == sent.lead["id"]


def test_an_answer_on_a_deal_that_ended_goes_to_the_owner(bench) -> None:
    sent = send_proposal(bench.store)
    client_answer(bench.store, sent, "We accept.", "yes")
    bench.script(request_scripts={"proposal_answer": reader("accepted")})
    assert bench.materialize(assets()).success
    late = client_answer(bench.store, sent, "Actually, we decline.", "late")
    bench.script(request_scripts={"proposal_answer": reader("declined")})
    assert bench.materialize(assets()).success
    assert deal_of(bench.store, late["id"])["stage"] == "accepted"  # no arrow back
    assert bench.store.get_item(late["id"])["reason_code"] == "deal_already_accepted"


def test_the_golden_set() -> None:
    """Each golden answer is read as expected: code settles the machine-written ones before
    any model; the model's expected answers fit the contract and pass the suite."""
    cases = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
    assert {c["expect"]["outcome"] for c in cases if "expect" in c} == {
        "accepted", "declined", "revision_requested", "question",
    }  # fmt: skip
    for case in cases:
        decided = not_an_answer({**case, "headers": case.get("headers") or {}})
        assert decided == case.get("by_code"), case["id"]
        if "expect" in case:
            answer = ClientAnswer.model_validate(case["expect"])
            row = expectations.row(case["id"], answer)
            assert row["changes_named"] and row["unconditional"], case["id"]
            assert not row["secrets_found"], case["id"]


def test_the_suite_sends_unclear_answers_to_the_owner() -> None:
    vague = ClientAnswer(outcome="revision_requested", changes=[], summary="Wants changes.")
    conditional = ClientAnswer(outcome="accepted", changes=["Only if 50% off."], summary="Yes if.")
    assert not expectations.row("a", vague)["changes_named"]
    assert not expectations.row("b", conditional)["unconditional"]
