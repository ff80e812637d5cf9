"""Real-but-awkward mail (tests/data/awkward_inbox): none of it is quarantined, attachments are
kept beside their item, long bodies stay whole, and only the same message twice is a duplicate.

The corpus runs under a config with small limits (20 kB of text, 2,000 characters shown), so
that its files stay small while the attachment and the long body are over them.
"""

import json
from pathlib import Path

import pytest
from support import REPO, drop

from ops_assets.agents.prompting import untrusted_email
from ops_assets.defs.triage.assets import INTAKE_FLAGS, _flag_risky_requests
from resources.settings.config import SAMPLE_CONFIG, load_config
from sensors.intake import tick
from sensors.intake_files import INTAKE_NOTES
from sensors.parsing import CHARSET_FALLBACK, PARSER_FLAGS

AWKWARD = REPO / "tests" / "data" / "awkward_inbox"
FILES = sorted(AWKWARD.iterdir())
TRULY_THE_SAME = {
    # the same Message-ID (one copy from the Maildir, one dropped in the inbox)
    frozenset({"invoice-inv-01.eml", "invoice-inv-01-copy.eml"}),
    # the same sender, subject, text and attachment, sent again two minutes later
    frozenset({"invoice-inv-03.eml", "invoice-inv-03-sent-twice.eml"}),
}


@pytest.fixture
def intake(bench, tmp_path):
    config_file = tmp_path / "small.yaml"
    text = SAMPLE_CONFIG.read_text()
    text = text.replace("max_bytes: 1000000", "max_bytes: 20000")
    text = text.replace("max_body_chars: 20000", "max_body_chars: 2000")
    config_file.write_text(text)
    drop(bench.home.inbox, FILES)
    result = tick(bench.store, bench.home, load_config(config_file))
    items = {i["source"]: i for i in bench.store.items()}
    return result, items


def test_the_corpus_is_over_the_limits_it_is_about() -> None:
    assert (AWKWARD / "big-attachment.eml").stat().st_size > 20_000
    body = json.loads((AWKWARD / "long-body.json").read_text())["body"]
    assert 2_000 < len(body) < 20_000


def test_nothing_real_is_quarantined(intake) -> None:
    result, items = intake
    assert sorted(items) == [p.name for p in FILES]
    assert result.quarantined == 0
    assert [n for n, i in items.items() if i["state"] == "quarantined"] == []


def test_only_the_same_message_is_a_duplicate(intake) -> None:
    _, items = intake
    duplicates = {n for n, i in items.items() if i["state"] == "duplicate"}
    assert len(duplicates) == len(TRULY_THE_SAME)
    by_id = {i["id"]: n for n, i in items.items()}
    pairs = {frozenset({n, by_id[items[n]["duplicate_of"]]}) for n in duplicates}
    assert pairs == TRULY_THE_SAME
    # Same short text, same sender, other subjects and files: three messages.
    assert {items[f"see-attached-{n}.eml"]["state"] for n in (1, 2, 3)} == {"received"}
    assert items["invoice-inv-02.eml"]["state"] == "received"


def test_an_attachment_over_the_limit_is_kept_beside_the_item(intake) -> None:
    _, items = intake
    item = items["big-attachment.eml"]
    assert item["state"] == "received" and item["has_attachments"]
    assert "survey photos" in item["body"] and "base64" not in item["body"]
    (kept,) = item["headers"][INTAKE_NOTES]["attachments"]
    path = Path(kept["path"])
    assert path.is_file() and path.stat().st_size == kept["bytes"] == 30_000
    assert kept["name"] == "survey.jpg" and kept["content_type"] == "image/jpeg"
    assert path.parent.parent == Path(item["original_path"]).parent  # beside the original
    assert "survey.jpg" not in untrusted_email(item)  # no model sees it


def test_a_long_body_is_whole_in_the_store_and_cut_for_prompts(intake) -> None:
    _, items = intake
    item = items["long-body.json"]
    whole = json.loads((AWKWARD / "long-body.json").read_text())["body"]
    assert item["body"] == whole.strip()
    assert item["headers"][INTAKE_NOTES]["body_chars"] == len(item["body"])
    prompt = untrusted_email(item, 1_000)
    assert len(prompt) < 1_300 and "more characters not shown" in prompt


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("wrong-charset.eml", "caf\u00e9 con leche, tortilla espa\u00f1ola"),
        ("unknown-charset.eml", "Gr\u00fc\u00dfe aus M\u00fcnchen"),
    ],
)
def test_a_lying_charset_is_read_with_a_fallback_and_flagged(intake, name, words) -> None:
    _, items = intake
    item = items[name]
    assert item["state"] == "received" and words in item["body"]
    assert item["flags"] == [CHARSET_FALLBACK]
    assert item["headers"][INTAKE_NOTES]["charset"]["read_as"] == "cp1252"


def test_json_fields_beyond_the_contract_and_aliases(intake) -> None:
    _, items = intake
    extra = items["extra-fields.json"]
    assert extra["headers"][INTAKE_NOTES]["fields"] == {
        "form_id": "contact-7",
        "page": "/repairs",
        "consent": True,
        "fields": {"bike": "gravel", "slot": "sat-am"},
    }
    priya = items["aliases-sender-message.json"]
    assert (priya["sender"], priya["sender_name"]) == ("priya@harbourbakery.example", "Priya Shah")
    assert priya["body"].startswith("Please change our Sunday opening hours")
    assert priya["headers"][INTAKE_NOTES]["fields"] == {"source": "zapier"}
    kim = items["aliases-email-text.json"]
    assert (kim["sender"], kim["subject"]) == ("kim@client.example", "")
    assert kim["body"].startswith("The newsletter signup button")


def test_mail_nobody_can_be_answered_at_rests_with_the_owner(intake) -> None:
    _, items = intake
    item = items["no-from.eml"]
    assert (item["state"], item["reason_code"]) == ("awaiting_human", "no_reply_address")
    assert item["sender"] is None and "Scan job 77" in item["body"]


def test_triage_keeps_the_flags_intake_raised(intake, bench) -> None:
    assert INTAKE_FLAGS == PARSER_FLAGS
    _, items = intake
    item = items["wrong-charset.eml"]
    _flag_risky_requests(bench.store, [item])
    assert bench.store.get_item(item["id"])["flags"] == [CHARSET_FALLBACK]


def test_erase_takes_the_attachments_with_the_mail(intake, bench) -> None:
    from opsbench.privacy import erase

    _, items = intake
    kept = Path(items["big-attachment.eml"]["headers"][INTAKE_NOTES]["attachments"][0]["path"])
    erase(bench.home, bench.store, "accounts@lumenarchitects.example", wait_s=1.0)
    assert not kept.parent.exists()
    invoices = [p for p in bench.home.originals.glob("*.attachments")]
    assert len(invoices) == 3  # the three "see attached" mails of another contact stay


def test_mail_nobody_can_be_answered_at_is_not_released_into_the_flow(intake, bench) -> None:
    from opsbench.retry import RetryError, retry_item

    _, items = intake
    with pytest.raises(RetryError, match="no From address"):
        retry_item(bench.store, items["no-from.eml"]["id"])
    assert bench.store.get_item(items["no-from.eml"]["id"])["state"] == "awaiting_human"
    duplicate = next(i for i in items.values() if i["state"] == "duplicate")
    assert retry_item(bench.store, duplicate["id"]).startswith("retry-")  # others still go
