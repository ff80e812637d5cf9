"""Proposed corrections: items of the last 30 days whose stored category the home's current
triage classifier — retrained on the owner's own corrections — now contradicts with high
confidence. The desk shows each with why; accept re-categorises it (the path of `opsbench
recategorize`, so it becomes a label for the next training), dismiss records the owner's
"no" so the same proposal never comes back. Read only until the owner acts."""

import datetime as dt
import logging
from typing import Any, TypedDict

from resources.settings.config import Config
from resources.settings.home import Home
from resources.store import Store

log = logging.getLogger("opsbench.desk")
WINDOW_DAYS = 30
MIN_CONFIDENCE = 0.9  # below this the classifier's doubt is no reason to bother the owner
DISMISSED = "desk.correction_dismissed:"
LABEL_ASSET = "triage_label"


class Proposed(TypedDict):
    item: str
    subject: str
    sender: str
    stored: str
    proposed: str
    confidence: float
    why: str


def dismissed_key(item_id: str, category: str) -> str:
    return f"{DISMISSED}{item_id}:{category}"


def proposed(home: Home, store: Store, config: Config) -> list[Proposed]:
    """What the classifier now reads otherwise, most confident first ([] without one)."""
    from ops_assets.defs.triage import training
    from ops_assets.defs.triage.classifier import item_text
    from resources.memory.embeddings import chosen_spec, resolve

    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=WINDOW_DAYS)).isoformat()
    try:
        embedder = resolve(
            chosen_spec(config.memory.embedder),
            home=home.root,
            model=config.memory.embedding_model,
        )
        fitted = training.current(home.root, embedder.name)
        if fitted is None:
            return []
        items = [
            i
            for i in store.items()
            if i["category"]
            and (i["created_at"] or "") >= since
            # The owner's own label already says what it is.
            and store.get_output(i["id"], LABEL_ASSET) is None
        ]
        readings = fitted.predict([item_text(i) for i in items], embedder)
    except Exception:  # no classifier or embedder now: the desk shows the rest
        log.exception("proposed corrections could not be computed")
        return []
    found = []
    for item, (category, confidence) in zip(items, readings, strict=True):
        if category == item["category"] or confidence < MIN_CONFIDENCE:
            continue
        if store.control(dismissed_key(item["id"], category)) is not None:
            continue
        found.append(
            Proposed(
                item=item["id"],
                subject=item["subject"] or "",
                sender=item["sender"] or "",
                stored=item["category"],
                proposed=category,
                confidence=round(float(confidence), 3),
                why=(
                    f"the triage classifier {fitted.version}, trained with your "
                    f"{len(fitted.corrections)} corrections, reads it as {category} "
                    f"({confidence:.0%} sure); it is stored as {item['category']}"
                ),
            )
        )
    return sorted(found, key=lambda p: (-p["confidence"], p["item"]))


def accept(store: Store, item_id: str, category: str) -> dict[str, Any]:
    from ops_assets.defs.triage.corrections import recategorize

    return recategorize(store, item_id, category, actor="owner")


def dismiss(store: Store, item_id: str, category: str) -> dict[str, Any]:
    """Recorded once; a repeat leaves the first record."""
    key = dismissed_key(item_id, category)
    if store.control(key) is None:
        store.set_control(key, "dismissed", actor="owner")
    return {"item": item_id, "dismissed": category}
