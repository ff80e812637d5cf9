"""Money amounts are read in the notations clients write, whatever the locale or the tricks."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ops_assets.governance.amounts import amounts
from ops_assets.governance.facts import amounts as facts_amounts

# (thousands separator, decimal mark) of the notations in use: en, de, fr, ch, none.
STYLES = [
    (",", "."),
    (".", ","),
    (" ", ","),
    ("'", "."),
    ("\u00a0", ","),
    ("\u202f", ","),
    ("", "."),
]
CURRENCIES = ["€", "$", "£", "CHF", "EUR", "USD", "GBP", "chf", "US$"]


def _written(cents: int, grouping: str, mark: str, decimals: bool) -> str:
    whole = f"{cents // 100:,}".replace(",", grouping)
    return f"{whole}{mark}{cents % 100:02d}" if decimals else whole


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("€1.500,00", [1500.0]),  # read as 1.5 before: the issue's own example
        ("1.500,00 €", [1500.0]),
        ("EUR 1.500,00", [1500.0]),
        ("1,500.00 USD", [1500.0]),
        ("1 500,00 €", [1500.0]),
        ("CHF 1'500.00", [1500.0]),
        ("1\u2019500.00 CHF", [1500.0]),
        ("£1,500", [1500.0]),
        ("€1.500", [1500.0]),  # ambiguous: the larger reading
        ("1.500,- EUR", [1500.0]),
        ("EUR1.500", [1500.0]),
        ("$5k", [5000.0]),
        ("€ 1 234 567,89", [1234567.89]),
        ("$0.99", [0.99]),
        ("45 euros and 10 dollars", [45.0, 10.0]),
        ("\uff11\uff0c\uff15\uff10\uff10 \uff04", [1500.0]),  # full-width digits and sign
        ("\u0661\u0665\u0660\u0660 EUR", [1500.0]),  # Arabic-Indic digits
        ("€1\u200b500", [1500.0]),  # a zero-width space inside the figure
        ("charged $1,200.50 and EUR 30 and 45 euros and £9", [1200.5, 30.0, 45.0, 9.0]),
    ],
)
def test_amounts_in_common_locales(text, expected) -> None:
    assert amounts(text) == expected
    assert facts_amounts(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "invoice INV-2024-031 for order 12",
        "on 1.3.2024 at 10:30 we met",
        "the fee (49.00) was taken twice",
        "call +41 44 668 18 00",
        "",
    ],
)
def test_figures_without_a_currency_are_not_money(text) -> None:
    assert amounts(text) == []


@given(
    cents=st.integers(min_value=0, max_value=10**11),
    style=st.sampled_from(STYLES),
    currency=st.sampled_from(CURRENCIES),
    before=st.booleans(),
    space=st.sampled_from(["", " ", "\u00a0"]),
    decimals=st.booleans(),
    words=st.lists(
        st.sampled_from(["please", "pay", "the", "invoice", "of", "total:"]), max_size=4
    ),
)
def test_a_written_amount_reads_back_as_its_value(
    cents, style, currency, before, space, decimals, words
) -> None:
    if not decimals:
        cents -= cents % 100
    figure = _written(cents, *style, decimals)
    written = f"{currency}{space}{figure}" if before else f"{figure}{space}{currency}"
    if not before and currency == "US$" and not space:
        written = f"{figure} {currency}"
    found = amounts(" ".join([*words, written, *words]))
    assert [round(v * 100) for v in found] == [cents]


@given(st.text(max_size=300))
def test_any_text_yields_non_negative_finite_amounts(text) -> None:
    for value in amounts(text):
        assert 0 <= value < float("inf")


@given(
    cents=st.integers(min_value=100_000, max_value=10**9),
    style=st.sampled_from(STYLES[:4]),
    currency=st.sampled_from(["€", "$", "£", "CHF", "EUR"]),
)
def test_an_amount_in_thousands_is_never_read_smaller(cents, style, currency) -> None:
    """Reading 1.500,00 as 1.5 is how a limit of 500 is slipped past."""
    text = f"{currency} {_written(cents, *style, True)}"
    assert max(amounts(text)) * 100 >= cents - 1
