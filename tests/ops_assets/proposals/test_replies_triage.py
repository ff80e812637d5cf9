"""The client's answer through triage once: a mail on the thread of a proposal we sent is
taken in from the inbox, triage routes it back to the workflow (route `proposals`, whatever
its category), and proposal_answer wins the deal. The proposal itself is seeded as sent
(sent_proposals.py): the loop up to the send is test_loop.py's."""

from pathlib import Path

from sent_proposals import send_proposal
from support import batch_assets

from ops_assets.defs.proposals.deals import deal_of

EML = """From: Meg O'Connell <meg@greenleafyoga.example>
To: hello@northwind.example
Subject: Re: Quote for a new website
Message-ID: <yes-we-accept@greenleafyoga.example>
In-Reply-To: <{delivery}@northwind.example>
References: <lead@greenleafyoga.example> <{delivery}@northwind.example>
Date: Wed, 02 Dec 2026 09:00:00 +0000
Content-Type: text/plain; charset=utf-8

Hi, thank you. We accept the proposal as it stands; when can you start?

Meg
"""


def test_an_acceptance_taken_in_and_triaged_wins_the_deal(bench, tmp_path: Path) -> None:
    from ops_assets.defs.proposals.replies.assets import proposal_answer

    sent = send_proposal(bench.store)
    mail = tmp_path / "mail" / "answer.eml"
    mail.parent.mkdir()
    mail.write_text(EML.format(delivery=sent.delivery["id"]))
    key = bench.intake([mail])
    bench.script(
        request_scripts={
            "proposal_answer": lambda body: {
                "outcome": "accepted",
                "changes": [],
                "summary": "The client accepts.",
            }
        }
    )
    assert bench.materialize(batch_assets(), key).success
    (answer,) = bench.store.items(batch=key)
    assert (answer["state"], answer["route"]) == ("triaged", "proposals")

    assert bench.materialize([proposal_answer]).success
    assert deal_of(bench.store, answer["id"])["stage"] == "accepted"
    item = bench.store.get_item(answer["id"])
    assert (item["state"], item["reason_code"]) == ("awaiting_human", "proposal_accepted")
