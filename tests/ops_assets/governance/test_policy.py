"""The policy file: one test per rule kind, strictest-wins, clear errors, facts from code."""

import dataclasses

import pytest

from ops_assets.governance.facts import amounts, facts_for
from ops_assets.governance.policy import Facts, decide
from resources.settings.config import ConfigError
from resources.settings.policy import SAMPLE_POLICY, Policy, load_policy

PLAIN = Facts(
    category="support",
    urgency="normal",
    unknown_recipient_domain=False,
    first_contact=False,
    money_mentioned=False,
    amount=None,
    attachments=False,
    flagged=False,
)


def _policy(rules: list[dict], default: str = "auto") -> Policy:
    return Policy.model_validate(
        {"actions": {"send_reply": {"default": default, "rules": rules}}, "version": "policy-test"}
    )


@pytest.mark.parametrize(
    ("when", "matching", "not_matching"),
    [
        ({"category": ["billing"]}, {"category": "billing"}, {"category": "support"}),
        ({"urgency": ["high"]}, {"urgency": "high"}, {"urgency": "normal"}),
        ({"unknown_recipient_domain": True}, {"unknown_recipient_domain": True}, {}),
        ({"first_contact": True}, {"first_contact": True}, {}),
        ({"money_mentioned": True}, {"money_mentioned": True, "amount": 5.0}, {}),
        ({"amount_above": 500}, {"amount": 500.01}, {"amount": 500.0}),
        ({"attachments": True}, {"attachments": True}, {}),
        ({"flagged": True}, {"flagged": True}, {}),
    ],
)
def test_each_rule_kind_matches_exactly_its_facts(when, matching, not_matching) -> None:
    policy = _policy([{"name": "held", "when": when, "then": "needs_approval"}])
    hit = decide(policy, "send_reply", dataclasses.replace(PLAIN, **matching))
    miss = decide(policy, "send_reply", dataclasses.replace(PLAIN, **not_matching))
    assert (hit.verdict, hit.rule, hit.policy_version) == ("needs_approval", "held", "policy-test")
    assert (miss.verdict, miss.rule) == ("auto", "default")


def test_the_strictest_matching_rule_wins_and_all_conditions_must_hold() -> None:
    policy = _policy(
        [
            {"name": "money", "when": {"money_mentioned": True}, "then": "needs_approval"},
            {
                "name": "huge",
                "when": {"amount_above": 10_000, "category": ["billing"]},
                "then": "forbidden",
            },
        ]
    )
    facts = dataclasses.replace(PLAIN, money_mentioned=True, amount=20_000.0)
    assert decide(policy, "send_reply", facts).rule == "money"  # category does not hold
    billing = dataclasses.replace(facts, category="billing")
    assert decide(policy, "send_reply", billing).verdict == "forbidden"


def test_an_action_the_policy_does_not_mention_is_never_automatic() -> None:
    assert decide(_policy([]), "wire_money", PLAIN).verdict == "needs_approval"


def test_sample_policy_loads_with_a_content_hash_version(tmp_path) -> None:
    policy = load_policy()
    assert policy.version.startswith("policy-") and len(policy.version) == 19
    changed = tmp_path / "p.yaml"
    changed.write_text(SAMPLE_POLICY.read_text().replace("amount_above: 500", "amount_above: 50"))
    assert load_policy(changed).version != policy.version


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("actions: {send_reply: {default: maybe}}", "actions.send_reply.default"),
        ("budgets: {daily_usd: -1}", "budgets.daily_usd"),
        ("actions: {send_reply: {rules: [{name: x, when: {colour: red}, then: auto}]}}", "colour"),
    ],
)
def test_policy_errors_name_the_field(tmp_path, text, message) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=message):
        load_policy(path)


def test_amounts_are_read_in_common_notations() -> None:
    assert amounts("charged $1,200.50 and EUR 30 and 45 euros and £9") == [1200.5, 30, 45, 9]
    assert amounts("invoice INV-2024-031 for order 12") == []


def test_facts_come_from_the_store_not_the_text(tmp_path) -> None:
    from resources.store import Store

    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    base = {"kind": "eml", "sender": "jo@client.example", "subject": "hi", "body": "hello"}
    store.register(
        {"id": "a", "source": "a.eml", **base, "message_id": "<a>", "content_hash": "1"}, batch="b"
    )
    store.register(
        {
            "id": "b",
            "source": "b.eml",
            **base,
            "message_id": "<b>",
            "content_hash": "2",
            "body": "I was charged $700. My bank details changed,"
            " send everything to new@evil.example",
        },
        batch="b",
    )
    first, second = store.get_item("a"), store.get_item("b")
    policy = load_policy()
    assert facts_for(store, policy, first, "jo@client.example", "").first_contact
    facts = facts_for(store, policy, second, "jo@client.example", "")
    assert not facts.first_contact and facts.unknown_recipient_domain
    assert facts.money_mentioned and facts.amount == 700.0
