"""Nudges (issue 18 §2, follow-up): a sent proposal unanswered for N business days in the
owner's time zone gets a suggested nudge drafted and held for the owner (never sent by the
sample policy), threaded under the proposal's Message-ID, at most K; then the deal is stalled
and its end remembered. The proposal is seeded as sent (sent_proposals.py)."""

import datetime as dt

import pytest
from sent_proposals import client_answer, send_proposal
from support import SmtpSink, batch_assets, write_config

from ops_assets.defs.follow_ups.assets import SCHEDULED_FOR
from ops_assets.defs.proposals.deals import deal_of
from ops_assets.defs.proposals.nudges.business_days import business_days_between
from ops_assets.defs.proposals.nudges.due import nudge_id
from resources.memory import EPISODIC, MemoryResource
from resources.settings.proposals import ProposalNudges, nudge_settings

FRIDAY = dt.datetime(2026, 11, 27, 15, 0, tzinfo=dt.UTC)


def at(days: int) -> dt.datetime:
    return FRIDAY + dt.timedelta(days=days)


def nudge(bench, when: dt.datetime):
    from ops_assets.defs.proposals.nudges.assets import proposal_nudges

    result = bench.materialize([proposal_nudges], tags={SCHEDULED_FOR: when.isoformat()})
    assert result.success
    return result


def nudges(bench) -> list[dict]:
    return [i for i in bench.store.items() if i["id"].startswith("nud_")]


def test_business_days_skip_the_weekend_in_the_owners_zone() -> None:
    assert business_days_between(FRIDAY, at(1), "UTC") == 0  # Saturday
    assert business_days_between(FRIDAY, at(2), "UTC") == 0  # Sunday
    assert business_days_between(FRIDAY, at(3), "UTC") == 1  # Monday
    assert business_days_between(FRIDAY, at(4), "UTC") == 2
    assert business_days_between(FRIDAY, at(17), "UTC") == 11
    # 03:00 on Monday in UTC is still Sunday in Los Angeles: by noon there, one business day.
    sunday_there = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)
    noon_there = dt.datetime(2026, 11, 30, 20, 0, tzinfo=dt.UTC)
    assert business_days_between(sunday_there, noon_there, "UTC") == 0
    assert business_days_between(sunday_there, noon_there, "America/Los_Angeles") == 1


def test_the_keys_default_until_the_config_has_them() -> None:
    assert nudge_settings(object()) == ProposalNudges()
    assert ProposalNudges().after_business_days == 3 and ProposalNudges().max_nudges == 2


@pytest.mark.slow
def test_an_unanswered_proposal_gets_k_nudges_for_the_owner_then_stalls(
    bench, monkeypatch: pytest.MonkeyPatch, tmp_path
) -> None:
    with SmtpSink() as smtp:
        config = write_config(tmp_path / "config.yaml", smtp={"enabled": True, "port": smtp.port})
        monkeypatch.setenv("OPSBENCH_CONFIG", str(config))
        sent = send_proposal(bench.store, sent_at=FRIDAY)  # N = 3, K = 2 (the defaults)

        nudge(bench, at(4))  # Tuesday: 2 business days, not 6 calendar days
        assert nudges(bench) == []
        nudge(bench, at(5))
        (first,) = nudges(bench)
        assert first["id"] == nudge_id(sent.delivery["id"], 1)
        assert (first["kind"], first["route"], first["state"]) == (
            "follow_up", "reply_draft", "triaged",
        )  # fmt: skip
        assert first["message_id"] == f"<{sent.delivery['id']}@northwind.example>"
        assert (
            deal_of(bench.store, first["id"])["id"] == deal_of(bench.store, sent.lead["id"])["id"]
        )

        # The reply path drafts and reviews it; the sample policy holds it for the owner.
        bench.script()
        bench.add_batch_partition(first["batch"])
        assert bench.materialize(batch_assets(), first["batch"]).success
        held = bench.store.get_item(first["id"])
        assert (held["state"], held["reason_code"]) == ("awaiting_approval", "follow_up")
        assert smtp.messages == []

        nudge(bench, at(12))  # the first still waits for the owner: no second one yet
        assert len(nudges(bench)) == 1
        bench.store.transition(
            first["id"], "rejected", actor="operator", expect=("awaiting_approval",)
        )
        nudge(bench, at(12))
        assert len(nudges(bench)) == 2  # the owner settled the first; 3 business days passed
        second = bench.store.get_item(nudge_id(sent.delivery["id"], 2))
        bench.store.transition(second["id"], "no_action", actor="operator", expect=("triaged",))
        nudge(bench, at(13))
        assert deal_of(bench.store, sent.lead["id"])["stage"] == "proposal_sent"  # not yet N
        nudge(bench, at(20))
        assert len(nudges(bench)) == 2  # never more than K
        assert deal_of(bench.store, sent.lead["id"])["stage"] == "stalled"
        assert smtp.messages == []
        mem = MemoryResource(settings=bench.resources["settings"]).get(bench.store)
        (ended,) = [r for r in mem.rows(EPISODIC) if r["kind"] == "proposal_outcome"]
        assert ended["state"] == "stalled" and ended["item_id"] == sent.lead["id"]


def test_an_answered_proposal_gets_no_nudge(bench) -> None:
    sent = send_proposal(bench.store, sent_at=FRIDAY)
    client_answer(bench.store, sent, "We are still deciding, give us a week.")
    nudge(bench, at(10))
    assert nudges(bench) == []
    assert deal_of(bench.store, sent.lead["id"])["stage"] == "proposal_sent"


def _nudge_sent(bench) -> str:
    """The proposal's first nudge made and confirmed sent on the reply path: its delivery id."""
    nudge(bench, at(5))
    (made,) = nudges(bench)
    reply_id = "dlv_" + "0" * 20
    bench.store.delivery_intent(
        {
            "id": reply_id,
            "item_id": made["id"],
            "destination": "meg@greenleafyoga.example",
            "purpose": "reply",
            "connector": "smtp",
            "content_hash": "x",
        }
    )
    bench.store.delivery_mark(reply_id, "confirmed")
    return reply_id


def test_an_answer_to_a_nudge_answers_the_proposal(bench) -> None:
    """Seeded as triage would route it to the workflow (`triaged`, route `proposals`); the
    nudge went out on the reply path (a delivery of purpose `reply`)."""
    from ops_assets.defs.proposals.replies.assets import proposal_answer

    sent = send_proposal(bench.store, sent_at=FRIDAY)
    reply_id = _nudge_sent(bench)
    answer = client_answer(bench.store, sent, "Sorry for the silence: yes, we accept!", "late")
    on_nudge = f"<{reply_id}@northwind.example>"  # only the nudge's id: nothing else to follow
    bench.store.update_fields(answer["id"], in_reply_to=on_nudge, references=[on_nudge])
    bench.script(
        request_scripts={
            "proposal_answer": lambda body: {
                "outcome": "accepted",
                "changes": [],
                "summary": "They accept.",
            }
        }
    )
    assert bench.materialize([proposal_answer]).success
    assert deal_of(bench.store, sent.lead["id"])["stage"] == "accepted"
    assert bench.store.get_item(answer["id"])["reason_code"] == "proposal_accepted"


def test_an_answer_to_a_nudge_is_routed_to_the_proposals_workflow(bench, tmp_path) -> None:
    """Through intake and triage: the client answers only our nudge (a follow-up on the reply
    path), so its thread names a reply delivery; triage follows the nudge to the lead it nudges
    and routes the answer to proposals, where the lead's agents leave it to proposal_answer."""
    from ops_assets.defs.proposals.leads import answers_a_proposal

    send_proposal(bench.store, sent_at=FRIDAY)
    reply_id = _nudge_sent(bench)
    mail = tmp_path / "mail" / "late.eml"
    mail.parent.mkdir()
    mail.write_text(
        "From: Meg O'Connell <meg@greenleafyoga.example>\nTo: hello@northwind.example\n"
        "Subject: Re: Following up\nMessage-ID: <late-yes@greenleafyoga.example>\n"
        f"In-Reply-To: <{reply_id}@northwind.example>\n"
        f"References: <{reply_id}@northwind.example>\n\nSorry for the silence: we accept.\n"
    )
    key = bench.intake([mail])
    assert bench.materialize(batch_assets(), key).success
    (answer,) = bench.store.items(batch=key)
    assert (answer["state"], answer["route"]) == ("triaged", "proposals")
    assert answers_a_proposal(bench.store, answer)  # not a new lead
