"""Policy decisions: the strictest rule of the operator's policy file that matches facts code
computed (category, recipient domain, amounts, flags) — never the text of a message or a
model's output. The file itself is settings (resources/settings/policy.py)."""

from dataclasses import dataclass

from resources.settings.policy import Conditions, Policy, Verdict

SEVERITY = {"auto": 0, "needs_approval": 1, "forbidden": 2}


@dataclass(frozen=True)
class Facts:
    """What the policy may look at, computed by code from structured fields."""

    category: str | None
    urgency: str | None
    unknown_recipient_domain: bool
    first_contact: bool
    money_mentioned: bool
    amount: float | None
    attachments: bool
    flagged: bool
    follow_up: bool = False
    meeting_invite: bool = False


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    rule: str
    policy_version: str


def _matches(when: Conditions, facts: Facts) -> bool:
    checks = [
        when.category is None or facts.category in when.category,
        when.urgency is None or facts.urgency in when.urgency,
        when.unknown_recipient_domain is None
        or facts.unknown_recipient_domain == when.unknown_recipient_domain,
        when.first_contact is None or facts.first_contact == when.first_contact,
        when.money_mentioned is None or facts.money_mentioned == when.money_mentioned,
        when.amount_above is None or (facts.amount or 0) > when.amount_above,
        when.attachments is None or facts.attachments == when.attachments,
        when.flagged is None or facts.flagged == when.flagged,
        when.follow_up is None or facts.follow_up == when.follow_up,
        when.meeting_invite is None or facts.meeting_invite == when.meeting_invite,
    ]
    return all(checks)


def decide(policy: Policy, action: str, facts: Facts) -> Decision:
    rules = policy.action(action)
    decision = Decision(rules.default, "default", policy.version)
    for rule in rules.rules:
        if not _matches(rule.when, facts):
            continue
        stricter = SEVERITY[rule.then] > SEVERITY[decision.verdict]
        # A matching rule as strict as the default names why (a proposal held as over the
        # amount limit, not merely by default); the first such rule wins among equals.
        naming = SEVERITY[rule.then] == SEVERITY[decision.verdict] and decision.rule == "default"
        if stricter or naming:
            decision = Decision(rule.then, rule.name, policy.version)
    return decision
