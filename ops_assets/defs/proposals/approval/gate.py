"""The `send_proposal` gate: the operator's policy decides from facts code computed (the
total, the recipient's domain, flags), never from the proposal's text."""

import dataclasses
from typing import Any

from ops_assets.agents.agent_run import valid_output
from ops_assets.defs.proposals.workflow import SEND_PROPOSAL
from ops_assets.governance.facts import facts_for
from ops_assets.governance.policy import decide
from resources.settings.policy import Policy
from resources.store import Store
from resources.store import proposals as rows

ACTOR = "policy"


def gate(st: Store, policy: Policy, version: dict[str, Any]) -> str:
    """The verdict applied to a verified version (`auto`, `needs_approval`, `forbidden`)."""
    item = st.get_item(version["item_id"]) or {}
    facts = facts_for(st, policy, item, version["to_address"], version["cover_mail"])
    facts = dataclasses.replace(
        facts,
        category=(valid_output(st, item["id"], "triage") or {}).get("category", "sales"),
        money_mentioned=True,
        amount=float(version["total"]),
        attachments=True,
    )
    decision = decide(policy, SEND_PROPOSAL, facts)
    target = {
        "auto": "approved",
        "needs_approval": "awaiting_approval",
        "forbidden": "rejected",
    }[decision.verdict]
    if rows.set_status(
        st,
        version["item_id"],
        version["version"],
        target,
        actor=ACTOR,
        expect=("verified",),
    ):
        st.audit(
            item["id"],
            ACTOR,
            "proposal_gate",
            {
                "version": version["version"],
                "policy": decision.policy_version,
                "rule": decision.rule,
                "verdict": decision.verdict,
                "facts": dataclasses.asdict(facts),
            },
        )
        if decision.verdict != "needs_approval":
            st.record_approval(
                item["id"],
                "approved" if decision.verdict == "auto" else "rejected",
                actor=ACTOR,
                policy=decision.policy_version,
                note=f"send_proposal v{version['version']}: {decision.rule}",
            )
    settle_item(st, item["id"], rule=decision.rule)
    return decision.verdict


DECIDED = ("approved", "awaiting_approval", "rejected")
"""A version's verdicts that are also the item's next state."""


def settle_item(st: Store, item_id: str, *, rule: str | None = None) -> bool:
    """The `reviewed` item follows its newest version's verdict (the owner's queue shows an
    `awaiting_approval` item with the policy rule as its reason code)."""
    version = rows.latest(st, item_id)
    if version is None or version["status"] not in DECIDED:
        return False
    target = version["status"]
    held = target != "approved"
    return st.transition(
        item_id,
        target,
        actor=ACTOR,
        reason_code=(rule or SEND_PROPOSAL) if held else None,
        reason=f"{SEND_PROPOSAL} v{version['version']}: {rule or target}" if held else None,
        expect=("reviewed",),
    )
