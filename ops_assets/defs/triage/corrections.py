"""The owner re-categorises an item (`opsbench recategorize ITEM CATEGORY`, the desk): the
best label there is, kept with its provenance for the classifier's next training.

It is kept as an `agent_outputs` row of asset `triage_label` (`resources.store.labels`) and an
audit row, and the item's category field says it from now on. The triage row stays what triage
wrote (its provenance is the model's or the classifier's, not the owner's); the item's state is
not moved: where the item goes next is the owner's own verb (approve, reject, retry).
"""

from typing import Any, get_args

from ops_assets.agents.agent_run import owner_row
from ops_assets.defs.triage.contract import Category
from ops_assets.governance.controls import ControlError
from resources.store import Store
from resources.store.labels import LABEL_ASSET, label_count


def recategorize(store: Store, item_id: str, category: str, *, actor: str = "owner") -> dict:
    """Record the owner's category for an item; what changed, and how many labels there are."""
    if category not in get_args(Category):
        raise ControlError(
            f"unknown category {category!r}: use one of {', '.join(get_args(Category))}"
        )
    item = store.get_item(item_id)
    if item is None:
        raise ControlError(f"no item {item_id}")
    before = item["category"]
    previous = store.get_output(item_id, "triage")
    triaged = (previous or {}).get("output") or {}
    output: dict[str, Any] = {
        "category": category,
        "before": before,
        "triaged_as": triaged.get("category"),
        "stage": triaged.get("stage"),
        "actor": actor,
    }
    store.save_output(owner_row(item, LABEL_ASSET, output, model=None))
    store.update_fields(item_id, category=category)
    store.audit(
        item_id,
        actor,
        "recategorized",
        {"from": before, "to": category, "triaged_as": triaged.get("category")},
    )
    return {
        "item": item_id,
        "category": category,
        "before": before,
        "triaged_as": triaged.get("category"),
        "state": item["state"],
        "labels": label_count(store),
    }
