"""Facts the policy decides on, computed by code from the item, the draft and the store."""

from typing import Any

from ops_assets.governance.amounts import amounts
from ops_assets.governance.domains import domain_of, is_hostname, is_known
from ops_assets.governance.policy import Facts
from resources.settings.policy import Policy
from resources.store import Store

__all__ = ["amounts", "facts_for"]


def facts_for(
    store: Store,
    policy: Policy,
    item: dict[str, Any],
    recipient: str,
    reply_body: str,
    *,
    meeting_invite: bool = False,
) -> Facts:
    # Exactly a listed or delivered-to host name: no wildcard, look-alike or case trick.
    domain = domain_of(recipient)
    known = is_known(domain, policy.known_domains) or (
        is_hostname(domain) and store.delivered_to_domain(domain)
    )
    text = f"{item.get('subject') or ''}\n{item.get('body') or ''}\n{reply_body}"
    found = amounts(text)
    return Facts(
        category=item.get("category"),
        urgency=item.get("urgency"),
        unknown_recipient_domain=not known,
        first_contact=not store.earlier_items_from(item.get("sender") or "", item["created_at"]),
        money_mentioned=bool(found),
        amount=max(found) if found else None,
        attachments=bool(item.get("has_attachments")),
        flagged=bool(item.get("flags")),
        follow_up=item.get("kind") == "follow_up",
        meeting_invite=meeting_invite,
    )
