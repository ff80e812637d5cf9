"""Reasons code finds to hold a reply for the owner, whatever the policy file or the models say.

They are a floor under the policy, not rules in it: a sender who fails authentication while
claiming a known address, a domain that imitates a known one or cannot be a host name, a
category the model gave that the rules' own reading of the mail contradicts, and a reply that
echoes its mail (`echo.py`). Each is a reason code the owner sees.
"""

from collections.abc import Iterable
from typing import Any

from ops_assets.governance import echo
from ops_assets.governance.amounts import amounts
from ops_assets.governance.authentication import verdict
from ops_assets.governance.domains import domain_of, is_hostname, is_known, lookalike_of
from ops_assets.governance.injection import injection_flags
from resources.settings.config import Identity
from resources.settings.policy import Policy
from resources.store import Store
from resources.store.deliveries import OWNER_DIGEST

# Message-level holds, also added to the item's flags (memory keeps flagged mail out).
MESSAGE_HOLDS = (
    "unauthenticated_sender",
    "lookalike_domain",
    "invalid_sender_domain",
    "category_contradicts_rules",
)
_MONEY_FLAGS = frozenset({"bank_details_change", "move_money"})
_SECRET_FLAGS = frozenset({"reveal_secrets", "reveal_prompt"})


def delivered_domains(st: Store) -> set[str]:
    """Domains we confirmed a reply to (look-alikes are measured against them); the owner's
    own digest is no reply to a client."""
    return {
        domain_of(d["destination"])
        for d in st.all_deliveries()
        if d["state"] == "confirmed"
        and "@" in str(d["destination"])
        and d["purpose"] != OWNER_DIGEST
    }


def rules_reading(item: dict[str, Any]) -> set[str]:
    """What code reads in the mail on its own: money, a bank change, a request for secrets."""
    flags = set(item.get("flags") or []) | set(
        injection_flags(item.get("subject"), item.get("body"), item.get("sender"))
    )
    reading = set()
    if amounts(f"{item.get('subject') or ''}\n{item.get('body') or ''}"):
        reading.add("money")
    if flags & _MONEY_FLAGS:
        reading.add("bank_change")
    if flags & _SECRET_FLAGS:
        reading.add("secrets")
    return reading


def contradicts_rules(category: str | None, reading: set[str]) -> bool:
    """Money or a bank change is billing, whatever the model called it; a request for secrets
    is never a mail to answer on its own."""
    if reading & {"money", "bank_change"} and category != "billing":
        return True
    return "secrets" in reading and category != "spam"


def sender_flags(
    st: Store, policy: Policy, items: list[dict[str, Any]], owner_addresses: Iterable[str]
) -> dict[str, list[str]]:
    """Triage's share: the holds about who sent each item, known before any model reads it
    (the category check waits for the gate), raised as flags on the item."""
    delivered, owners = delivered_domains(st), list(owner_addresses)
    return {
        item["id"]: [
            hold
            for hold in message_holds(
                st, policy, item, owner_addresses=owners, known_elsewhere=delivered
            )
            if hold != "category_contradicts_rules"
        ]
        for item in items
    }


def message_holds(
    st: Store,
    policy: Policy,
    item: dict[str, Any],
    *,
    owner_addresses: Iterable[str] = (),
    known_elsewhere: Iterable[str] = (),
) -> list[str]:
    """The message-level holds of one item (in MESSAGE_HOLDS order)."""
    sender = (item.get("sender") or "").strip()
    domain = domain_of(sender)
    owners = {a.lower() for a in owner_addresses}
    known = {*policy.known_domains, *(domain_of(a) for a in owners), *known_elsewhere}
    holds = []
    claims_known = (
        sender.lower() in owners
        or is_known(domain, known)
        or (is_hostname(domain) and st.delivered_to_domain(domain))
        or bool(st.earlier_items_from(sender, item.get("created_at") or "9999"))
    )
    auth = verdict(item, policy.sender_authentication.authserv_ids)
    required = policy.sender_authentication.require
    if claims_known and (auth == "fail" or (auth == "unknown" and required)):
        holds.append("unauthenticated_sender")
    if lookalike_of(domain, known):
        holds.append("lookalike_domain")
    if not is_hostname(domain):
        holds.append("invalid_sender_domain")
    if contradicts_rules(item.get("category"), rules_reading(item)):
        holds.append("category_contradicts_rules")
    return holds


def reply_holds(
    st: Store,
    policy: Policy,
    item: dict[str, Any],
    body: str,
    identity: Identity,
    *,
    delivered: set[str] | None = None,
) -> list[str]:
    """Every hold on sending `body` as the reply to `item`: the message's, then the draft's.
    `delivered`: `delivered_domains(st)`, when the caller gates many items at once."""
    holds = message_holds(
        st,
        policy,
        item,
        owner_addresses=identity.owner_addresses,
        known_elsewhere=delivered_domains(st) if delivered is None else delivered,
    )
    return holds + echo.draft_problems(body, item, identity)
