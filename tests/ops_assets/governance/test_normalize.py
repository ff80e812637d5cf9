"""Rules read one normalised text: homoglyphs, invisible characters and odd digits undone."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ops_assets.governance.normalize import for_rules, has_invisible, mixed_script_words


@pytest.mark.parametrize(
    ("written", "read"),
    [
        ("b\u0430nk det\u0430ils", "bank details"),  # Cyrillic a
        ("IB\u200bAN", "IBAN"),  # zero-width space
        ("pay\u00adment", "payment"),  # soft hyphen
        ("\u202eupdate", "update"),  # right-to-left override
        ("\uff42\uff41\uff4e\uff4b", "bank"),  # full-width letters
        ("\U0001d41b\U0001d41a\U0001d427\U0001d424", "bank"),  # mathematical bold
        ("\u03a1\u0391\u03a5\u03a1\u0391L", "PAYPAL"),  # Greek capitals
        ("ändern überweisen", "andern uberweisen"),
        ("a\u00a0\u2009b", "a b"),
        ("\u0661\u0662", "12"),
    ],
)
def test_tricks_are_undone(written, read) -> None:
    assert for_rules(written) == read


def test_invisible_characters_and_mixed_scripts_are_noticed() -> None:
    assert has_invisible("IB\u200bAN") and not has_invisible("\ufeffplain")
    assert (
        mixed_script_words("our b\u0430nk") == 1
        and mixed_script_words("\u043d\u0430\u0448 \u0431\u0430\u043d\u043a") == 0
    )


@given(st.text(max_size=200))
def test_normalising_twice_changes_nothing(text) -> None:
    once = for_rules(text)
    assert for_rules(once) == once
