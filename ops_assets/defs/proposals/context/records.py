"""What the CRM and the store hold about a lead, by code (the prompt's context)."""

from typing import Any

from resources.store import Store

MAX_EARLIER = 5


def crm_records(st: Store, item: dict[str, Any]) -> str:
    sender = (item["sender"] or "").lower()
    contact = next((c for c in st.contacts() if c["email"] == sender), None)
    deals = [d for d in st.deals() if d["contact_email"] == sender]
    earlier = [
        i
        for i in st.items_of_contact(sender)
        if i["id"] != item["id"] and (i["created_at"] or "") < (item["created_at"] or "")
    ][-MAX_EARLIER:]
    lines = []
    if contact:
        lines.append(
            f"Contact: {contact['name'] or '?'} at {contact['company'] or '?'}, "
            f"{contact['messages']} messages, {contact['replies_sent']} replies sent"
        )
    lines += [
        f"Deal: {d['title']!r}, stage {d['stage']}"
        for d in deals
        if d["source_item_id"] != item["id"]
    ]
    lines += [f"Earlier mail: {i['subject']!r} ({i['category'] or 'untriaged'})" for i in earlier]
    return "\n".join(lines) or "(nothing on record)"
