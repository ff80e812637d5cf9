"""Outcomes of the proposals workflow (issue 18 §2-3): an accepted proposal is a won deal and
`opsbench cost` counts every call of the lead and its answers against it; `opsbench crm`
shows the pipeline with values and the CRM never moves a proposal's deal back to `lead`;
`opsbench show ITEM` shows the plan, the verifier's rows and each version with its diff.
Proposals are seeded as sent and answers as triage routes them (sent_proposals.py)."""

import json
from typing import Any

import pytest
import yaml
from sent_proposals import client_answer, draft_answer, send_proposal

from ops_assets.agents.agent_run import output_row
from ops_assets.defs.costs.won_deals import won_deals
from ops_assets.defs.crm.assets import sync
from ops_assets.defs.proposals.deals import deal_of
from opsbench.cli import main
from resources.settings.config import SAMPLE_CONFIG

MODEL = "priced-double"


def priced(bench, monkeypatch: pytest.MonkeyPatch) -> None:
    """The scripted model, priced: each call costs something, so the sums mean something."""
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["llm"]["model"] = MODEL
    config["llm"]["prices"][MODEL] = {"input": 10.0, "output": 20.0}
    path = bench.home.root / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(path))


def reader(outcome: str, changes: list[str] | None = None):
    return lambda body: {"outcome": outcome, "changes": changes or [], "summary": "Answered."}


def answer_assets() -> list:
    from ops_assets.defs.proposals.replies.assets import proposal_answer

    return [proposal_answer]


def cli(capsys: pytest.CaptureFixture[str], bench, *args: str) -> Any:
    assert main([*args, "--home", str(bench.home.root), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def triaged_as_sales(bench, item: dict[str, Any]) -> None:
    row = output_row(
        asset="triage", batch="b", run_id="r", prompt_version="test", result=None,
        output={"category": "sales", "summary": "A quote.", "customer_name": "Meg",
                "company": "Greenleaf Yoga", "amount": "", "question": "", "urgency": "normal"},
        input_hash=item["id"], failure=None,
    )  # fmt: skip
    bench.store.save_output({**row, "item_id": item["id"], "model": "code"})


def test_an_accepted_proposal_is_a_won_deal_with_its_cost(bench, monkeypatch, capsys) -> None:
    priced(bench, monkeypatch)
    sent = send_proposal(bench.store)
    lost = send_proposal(bench.store, "other")
    client_answer(bench.store, sent, "We accept, let's go.", "yes")
    client_answer(bench.store, lost, "No thank you.", "no")

    def read(body: dict[str, Any]) -> dict[str, Any]:
        return reader("declined" if "No thank" in body["messages"][-1]["content"] else "accepted")(
            body
        )

    bench.script(request_scripts={"proposal_answer": read})
    assert bench.materialize(answer_assets()).success

    calls, _ = bench.store.ledger()
    spent = {c["item_id"]: c["cost_usd"] for c in calls}
    assert spent["yes-item"] > 0 and spent["no-item"] > 0
    won = won_deals(bench.store)
    assert won["deals_won"] == 1
    (deal,) = won["deals"]
    assert (deal["lead_item_id"], deal["amount"]) == (sent.lead["id"], "5700.00 EUR")
    assert won["cost_usd"] == pytest.approx(spent["yes-item"])  # the declined one is not won
    assert won["cost_per_won_deal_usd"] == pytest.approx(spent["yes-item"])

    report = cli(capsys, bench, "cost")
    assert report["won_deals"]["deals_won"] == 1
    assert "outcomes" in report and "cost_per_outcome_usd" in report  # the old keys stay
    crm = cli(capsys, bench, "crm")
    assert crm["pipeline"]["accepted"] == {"deals": 1, "value": {"EUR": 5700.0}}
    assert crm["pipeline"]["declined"] == {"deals": 1, "value": {"EUR": 5700.0}}
    assert {"contacts", "deals"} <= set(crm)


def test_the_crm_never_moves_a_proposals_deal_back(bench) -> None:
    sent = send_proposal(bench.store)
    triaged_as_sales(bench, sent.lead)
    answer = client_answer(bench.store, sent, "Could it be four pages?")
    triaged_as_sales(bench, answer)
    sync(bench.store)
    (deal,) = bench.store.deals()  # none of its own for the answer: it is the lead's deal
    assert (deal["source_item_id"], deal["stage"]) == (sent.lead["id"], "proposal_sent")
    assert deal["amount"] == "5700.00 EUR"


def test_show_and_proposals_list_a_revision_with_its_diff(bench, capsys) -> None:
    sent = send_proposal(bench.store)
    answer = client_answer(bench.store, sent, "Please make it four pages.")
    bench.script(
        request_scripts={
            "proposal_answer": reader("revision_requested", ["Four pages."]),
            "proposal_draft": lambda body: draft_answer(
                lines=[{"code": "WEB-PAGE", "quantity": 4}]
            ),
        }
    )
    assert bench.materialize(answer_assets()).success

    shown = cli(capsys, bench, "show", answer["id"])
    proposal = shown["proposal"]
    assert [s["kind"] for s in proposal["plan"]] == ["scope", "timeline", "price_basis"]
    (version,) = proposal["versions"]
    assert version["revises"] == f"{sent.lead['id']} v1"
    assert "+WEB-PAGE  4 page x 450.00 = 1800.00" in version["diff"]
    assert version["checks"] == []  # the verifier has not judged it yet
    assert "outputs" in shown and "audit" in shown  # the old keys stay

    assert main(["show", answer["id"], "--home", str(bench.home.root)]) == 0
    text = capsys.readouterr().out  # the same story, for a person
    assert "proposal plan:" in text and "[price_basis]" in text and "criterion:" in text
    assert f"version 1  {version['status']}" in text and f"revises {sent.lead['id']} v1" in text
    assert "WEB-PAGE     4 x 450.00 = 1800.00" in text
    assert "+WEB-PAGE  4 page x 450.00 = 1800.00" in text  # the diff

    listed = {r["item_id"]: r for r in cli(capsys, bench, "proposals")}
    assert listed[answer["id"]]["stage"] == "revision_requested"  # the lead's deal, followed
    assert listed[answer["id"]]["value"] == 1800.0
    assert deal_of(bench.store, answer["id"])["amount"] == "5700.00 EUR"  # what was answered


def test_crm_and_cost_as_text_show_the_pipeline_and_won_deals(bench, capsys) -> None:
    sent = send_proposal(bench.store)
    client_answer(bench.store, sent, "We accept.")
    bench.script(request_scripts={"proposal_answer": reader("accepted")})
    assert bench.materialize(answer_assets()).success
    assert main(["crm", "--home", str(bench.home.root)]) == 0
    text = capsys.readouterr().out
    assert "pipeline" in text and "accepted" in text and "5,700.00 EUR" in text
    assert main(["cost", "--home", str(bench.home.root)]) == 0
    assert "1 won deals (accepted proposals)" in capsys.readouterr().out
