"""A domain counts as known only when it is exactly one we listed or delivered to: wildcards,
look-alikes and case tricks never borrow a real client's standing."""

import pytest

from resources.store import Store


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path / 's.sqlite'}")
    store.register(
        {
            "id": "a",
            "source": "a.eml",
            "kind": "eml",
            "sender": "jo@client.example",
            "subject": "hi",
            "body": "hello",
            "message_id": "<a>",
            "content_hash": "1",
        },
        batch="b",
    )
    store.delivery_intent(
        {
            "id": "d1",
            "item_id": "a",
            "destination": "jo@client.example",
            "purpose": "reply",
            "connector": "outbox",
            "content_hash": "x",
        }
    )
    store.delivery_mark("d1", "confirmed")
    return store


def test_a_domain_we_delivered_to_is_known(store) -> None:
    assert store.delivered_to_domain("client.example")
    assert store.delivered_to_domain("CLIENT.example")  # domains are case-insensitive


@pytest.mark.parametrize(
    "domain",
    [
        "_lient.example",  # LIKE's one-character wildcard
        "%",  # LIKE's any-string wildcard
        "%.example",
        "client%",
        "c_ient.example",
        "ient.example",
        "example",
        "",
        "jo@client.example",
        "\u212alient.example",  # KELVIN SIGN lower-cases to a Latin k in Python
    ],
)
def test_wildcards_and_fragments_are_not_a_delivered_domain(store, domain) -> None:
    assert not store.delivered_to_domain(domain)
