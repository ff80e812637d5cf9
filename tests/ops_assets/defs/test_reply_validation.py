"""Row checks on drafts, and the composition rules that code (never the model) decides."""

import email
import email.policy

import pytest

from ops_assets.defs.reply_draft.compose import (
    compose_reply,
    reply_recipient,
    reply_subject,
    strip_sign_off,
)
from ops_assets.defs.reply_draft.validation import draft_problems
from resources.settings.config import load_config

QUALITY = load_config().quality
GOOD = "Hi Jo,\n\nThanks for the details. I am checking the login service now and will write again."


CORPUS = [
    ("   ", "empty"),
    ("Hi Jo, ok.", "too_short"),
    (GOOD * 40, "too_long"),
    (GOOD + " Regards, [Customer's Name]", "placeholder"),
    (GOOD + " Reach us at [contact information].", "placeholder"),
    ("Subject: Re: login\n" + GOOD, "subject_line"),
    (GOOD + " Our key is sk-abcdefghijklmnopqrstuvwx.", "secret"),
    (GOOD + " Could you please provide your username and password?", "asks_for_secret"),
    (GOOD + " We will initiate a refund for the second charge.", "commitment"),
    (GOOD + " It will be fixed within 3 business days.", "commitment"),
]


@pytest.mark.parametrize(("text", "problem"), CORPUS)
def test_each_problem_is_named(text, problem) -> None:
    assert problem in draft_problems(text, QUALITY)


def test_a_good_draft_has_no_problem() -> None:
    assert draft_problems(GOOD, QUALITY) == []


def test_the_models_own_sign_off_is_replaced_by_the_persona() -> None:
    identity = load_config().identity
    body = GOOD + "\n\nBest regards,\nAlex Rivera\nNorthwind Studio"
    assert strip_sign_off(body, identity) == GOOD
    assert strip_sign_off(GOOD + "\nAlex", identity) == GOOD


def test_reply_to_is_honoured_only_within_the_senders_domain() -> None:
    item = {"sender": "jo@client.example", "reply_to": "billing@client.example"}
    assert reply_recipient(item) == "billing@client.example"
    assert reply_recipient({**item, "reply_to": "attacker@evil.example"}) == "jo@client.example"


def test_subject_gets_one_re() -> None:
    assert reply_subject("Login") == "Re: Login"
    assert reply_subject("RE: Login") == "RE: Login"
    assert reply_subject("") == "Re: your message"


def test_composed_reply_threads_and_signs() -> None:
    identity = load_config().identity
    item = {
        "id": "itm_1",
        "sender": "jo@client.example",
        "subject": "Login",
        "message_id": "<m1@client.example>",
        "references": ["<m0@client.example>"],
    }
    raw = compose_reply(item, GOOD, identity, delivery_id="dlv_x")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["Message-ID"] == "<dlv_x@northwind.example>"
    assert message["In-Reply-To"] == "<m1@client.example>"
    assert message["References"] == "<m0@client.example> <m1@client.example>"
    assert message.get_content().rstrip().endswith(identity.signature.strip().splitlines()[-1])


def test_the_great_expectations_suite_judges_like_the_edit_check() -> None:
    """One rule set, two runners: GE for batches, plain Python for one edited reply."""
    from ops_assets.defs.reply_draft import expectations
    from ops_assets.quality.suites import validate

    texts = [GOOD, *(text for text, _ in CORPUS)]
    rows = [expectations.row(f"i{n}", text) for n, text in enumerate(texts)]
    outcome = validate("reply_draft_test", rows, expectations.rules(QUALITY))
    for n, text in enumerate(texts):
        assert outcome.failing.get(f"i{n}", []) == draft_problems(text, QUALITY), text
    assert outcome.unexpected["commitment"] == 2
    assert "body" not in str(outcome.metadata())  # ids and reason codes, never text
