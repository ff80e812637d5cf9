"""The approval gate: after the quality layer, the operator's policy decides per item whether a
reply goes out on its own, waits for approval, or is refused. A blocked batch stops the line.

Under the policy lies a floor of code holds (`holds.py`): a reply the policy would send on its
own waits for the owner when code finds a reason, whatever the reviewer said."""

import dataclasses
from typing import Any

from ops_assets.governance.facts import facts_for
from ops_assets.governance.holds import MESSAGE_HOLDS, delivered_domains, reply_holds
from ops_assets.governance.policy import Decision, decide
from resources.settings.config import Identity, load_config
from resources.settings.policy import Policy
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
    identity: Identity | None = None,
) -> None:
    """The operator's policy decides, from facts code computed, per reviewed item; code holds
    turn an automatic send into a wait for the owner."""
    identity = identity or load_config().identity
    delivered = delivered_domains(st) if passed else set()
    for item, output in passed:
        current = st.get_item(item["id"]) or item
        holds = reply_holds(st, policy, current, output["body"], identity, delivered=delivered)
        current = _with_flags(st, current, [h for h in holds if h in MESSAGE_HOLDS])
        facts = facts_for(
            st,
            policy,
            current,
            output["to"],
            output["body"],
            meeting_invite=bool(output.get("invite")),
        )
        decision = decide(policy, SEND_REPLY, facts)
        if holds and decision.verdict != "forbidden":
            # A code hold is the reason the owner sees, before a policy rule that also holds.
            decision = Decision("needs_approval", holds[0], decision.policy_version)
        detail = {
            "policy": decision.policy_version,
            "rule": decision.rule,
            "facts": dataclasses.asdict(facts),
            "holds": holds,
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
                reason=(
                    f"held by code: {', '.join(holds)}"
                    if decision.rule in holds
                    else f"policy rule {decision.rule} asks for the owner's approval"
                ),
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


def _with_flags(st: Store, item: dict[str, Any], found: list[str]) -> dict[str, Any]:
    """The item with these message holds among its flags (recorded once, audited)."""
    flags = list(item.get("flags") or [])
    new = [f for f in found if f not in flags]
    if not new:
        return item
    st.update_fields(item["id"], flags=flags + new)
    st.audit(item["id"], "policy", "flagged", {"flags": flags + new})
    return {**item, "flags": flags + new}
