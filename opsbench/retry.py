"""`opsbench retry`: release a held item back into the flow, in a batch of its own."""

import hashlib
import time
from pathlib import Path

from resources.settings.config import load_config
from resources.store import Store
from sensors.intake import item_fields
from sensors.parsing import UnusableInput, parse_input

# Held items, false duplicates, and in-flight items a crashed run left behind.
RETRYABLE_STATES = (
    "quarantined",
    "awaiting_human",
    "deferred",
    "duplicate",
    "received",
    "triaged",
    "drafted",
    "reviewed",
)


class RetryError(Exception):
    """The item cannot be retried; the message says why."""


def retry_item(store: Store, item_id: str) -> str:
    item = store.get_item(item_id)
    if item is None:
        raise RetryError(f"no item {item_id}")
    if item["state"] not in RETRYABLE_STATES:
        raise RetryError(
            f"{item_id} is {item['state']}; only {', '.join(RETRYABLE_STATES)} items can be retried"
        )
    fields = {}
    if item["state"] == "quarantined":
        fields = _reparse(item)
    if not (fields or item).get("sender"):
        # Intake's no_reply_address: the flow would write a reply to nobody.
        raise RetryError(f"{item_id} has no From address anyone could be answered at")
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    batch = f"retry-{stamp}-{hashlib.sha256(item_id.encode()).hexdigest()[:8]}"
    store.create_batch(batch, "retry", 1)
    fields.pop("id", None)
    store.transition(
        item_id,
        "received",
        actor="operator",
        reason_code="retry",
        reason=f"released from {item['state']} ({item['reason_code']})",
        expect=(item["state"],),
        batch=batch,
        route=None,
        **fields,
    )
    return batch


def _reparse(item: dict) -> dict:  # type: ignore[type-arg]
    path = Path(item["original_path"] or "")
    if not path.is_file():
        raise RetryError(f"the original of {item['id']} is gone ({path})")
    limits = load_config().intake
    try:
        parsed = parse_input(
            item["source"],
            path.read_bytes(),
            max_bytes=limits.max_bytes,
            max_body_chars=limits.max_body_chars,
        )
    except UnusableInput as exc:
        raise RetryError(f"still unusable: {exc.code}: {exc.reason}") from exc
    return item_fields(item["id"], item["source"], parsed, path)
