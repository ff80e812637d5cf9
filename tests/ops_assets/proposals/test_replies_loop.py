"""A request for changes goes round the loop again (the contract with the workflow's other
agents): the answer item's new version is verified against the plan it carries, held for the
owner, approved, sent once by SMTP with its PDF on the client's thread, and the lead's deal is
back at `proposal_sent` with the new total. The first proposal is seeded as sent and the
answer as triage routes it (sent_proposals.py)."""

import email
import email.policy

import pytest
from sent_proposals import client_answer, draft_answer, send_proposal

from ops_assets.defs.proposals.approval.owner import approve_proposal
from ops_assets.defs.proposals.deals import deal_of
from resources.store import proposals as rows


@pytest.mark.slow
def test_a_revision_is_verified_approved_and_sent_once(bench, sink, kit) -> None:
    from ops_assets.defs.proposals.replies.assets import proposal_answer

    sent = send_proposal(bench.store)
    answer = client_answer(bench.store, sent, "Could you make it four pages, no shop?")
    model = bench.script(
        request_scripts={
            "proposal_answer": lambda body: {
                "outcome": "revision_requested",
                "changes": ["Four pages.", "No shop."],
                "summary": "Four pages, no shop.",
            },
            "proposal_draft": lambda body: draft_answer(
                lines=[{"code": "WEB-PAGE", "quantity": 4}, {"code": "DISC", "quantity": 1}]
            ),
        }
    )
    later = [a for a in kit.assets() if a.key.path[-1] in ("proposal_verdict",
             "proposal_approval", "proposal_delivery")]  # fmt: skip
    assert bench.materialize([proposal_answer, *later]).success
    version = rows.latest(bench.store, answer["id"])
    assert version["status"] == "awaiting_approval"  # the sample policy holds every proposal
    checks = rows.checks_for(bench.store, answer["id"], 1)
    assert len([c for c in checks if c["kind"] == "criterion"]) == 3 and all(
        c["passed"] for c in checks
    )
    assert sink.messages == []

    approve_proposal(bench.store, answer["id"])
    assert bench.materialize(later).success
    calls = model.calls
    assert bench.materialize([proposal_answer, *later]).success  # a second run sends nothing
    assert model.calls == calls

    (raw,) = sink.messages
    message = email.message_from_bytes(raw, policy=email.policy.SMTP)
    assert message["To"] == "meg@greenleafyoga.example"
    assert message["In-Reply-To"] == answer["message_id"]  # on the client's thread
    (pdf,) = [p for p in message.iter_attachments() if p.get_content_type() == "application/pdf"]
    assert pdf.get_content().startswith(b"%PDF")
    assert bench.store.get_item(answer["id"])["state"] == "delivered"
    deal = deal_of(bench.store, answer["id"])
    assert deal["source_item_id"] == sent.lead["id"]
    assert (deal["stage"], deal["amount"]) == ("proposal_sent", "2400.00 EUR")
