"""The approval gate: after the quality layer, the operator's policy decides per item whether a
reply goes out on its own, waits for approval, or is refused. A blocked batch stops the line."""

import dataclasses
from typing import Any

from ops_assets.governance.facts import facts_for
from ops_assets.governance.policy import Policy, decide
from resources.store import Store

SEND_REPLY = "send_reply"


def hold_blocked(
    st: Store, items: list[dict[str, Any]], *, actor: str, rate: float, expect: str
) -> None:
    """A batch whose failure rate passed the limit: nothing of it goes out unseen."""
    for item in items:
        st.transition(
            item["id"],
            "awaiting_human",
            actor=actor,
            reason_code="batch_blocked",
            reason=f"batch failure rate {rate:.0%} is above the limit",
            expect=(expect,),
        )


def gate(
    st: Store,
    policy: Policy,
    passed: list[tuple[dict[str, Any], dict[str, Any]]],
) -> None:
    """The operator's policy decides, from facts code computed, per reviewed item."""
    for item, output in passed:
        current = st.get_item(item["id"]) or item
        facts = facts_for(
            st,
            policy,
            current,
            output["to"],
            output["body"],
            meeting_invite=bool(output.get("invite")),
        )
        decision = decide(policy, SEND_REPLY, facts)
        detail = {
            "policy": decision.policy_version,
            "rule": decision.rule,
            "facts": dataclasses.asdict(facts),
        }
        # The approval is recorded only when this run made the transition (another run may
        # have gated the item first).
        if decision.verdict == "auto":
            if st.transition(
                item["id"], "approved", actor="policy", expect=("reviewed",), detail=detail
            ):
                st.record_approval(
                    item["id"],
                    "approved",
                    actor="policy",
                    policy=decision.policy_version,
                    note=decision.rule,
                )
        elif decision.verdict == "needs_approval":
            st.transition(
                item["id"],
                "awaiting_approval",
                actor="policy",
                reason_code=decision.rule,
                reason=f"policy rule {decision.rule} asks for the owner's approval",
                expect=("reviewed",),
                detail=detail,
            )
        elif st.transition(
            item["id"],
            "rejected",
            actor="policy",
            reason_code=decision.rule,
            reason=f"policy rule {decision.rule} forbids this reply",
            expect=("reviewed",),
            detail=detail,
        ):
            st.record_approval(
                item["id"],
                "rejected",
                actor="policy",
                policy=decision.policy_version,
                note=decision.rule,
            )
