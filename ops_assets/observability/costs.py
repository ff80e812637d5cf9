"""Cost per outcome: every paid model call is attributed to the delivered reply it contributed
to (triage, draft, reviews and repairs of that item), or to an explicit `unattributed` bucket
(spam, quarantined or held items, prompt tests, golden cases), so the parts add up exactly to
the call ledger. Amounts are summed in integer nano-dollars for that reason."""

from collections import defaultdict
from typing import Any

import pandas as pd

from resources.store import Store

NANO = 1_000_000_000
UNATTRIBUTED = "unattributed"
OUTCOME_STATES = ("sent", "confirmed")


def _nano(usd: float) -> int:
    return round(usd * NANO)


def _usd(nano: int) -> float:
    return nano / NANO


def call_frame(store: Store) -> pd.DataFrame:
    """One row per paid call: agent, model, prompt version, tokens, cost, the item it served,
    that item's category, the outcome it is attributed to, and the cost saved by its reuses."""
    calls, uses = store.ledger()
    items = {i["id"]: i for i in store.items()}
    delivered = {d["item_id"] for d in store.all_deliveries() if d["state"] in OUTCOME_STATES}
    reuses: dict[str, list[str | None]] = defaultdict(list)
    for use in uses:
        if use["cached"]:
            reuses[use["request_hash"]].append(use["item_id"])
    rows = []
    for call in calls:
        item = items.get(call["item_id"] or "")
        rows.append(
            {
                "request_hash": call["request_hash"],
                "agent": call["agent"],
                "model": call["model"],
                "prompt_version": call["prompt_version"],
                "item_id": call["item_id"],
                "category": (item or {}).get("category") or "none",
                "item_state": (item or {}).get("state") or "no_item",
                "outcome": call["item_id"] if call["item_id"] in delivered else UNATTRIBUTED,
                "day": call["created_at"][:10],
                "tokens_in": call["tokens_in"],
                "tokens_out": call["tokens_out"],
                "cost_nusd": _nano(call["cost_usd"]),
                "cache_hits": len(reuses[call["request_hash"]]),
                "saved_nusd": _nano(call["cost_usd"]) * len(reuses[call["request_hash"]]),
            }
        )
    columns = [
        "request_hash", "agent", "model", "prompt_version", "item_id", "category", "item_state",
        "outcome", "day", "tokens_in", "tokens_out", "cost_nusd", "cache_hits", "saved_nusd",
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=columns)


def _sums(frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "model_calls": len(frame),
        "cache_hits": int(frame["cache_hits"].sum()),
        "tokens_in": int(frame["tokens_in"].sum()),
        "tokens_out": int(frame["tokens_out"].sum()),
        "cost_usd": _usd(int(frame["cost_nusd"].sum())),
        "saved_usd": _usd(int(frame["saved_nusd"].sum())),
        "cost_nusd": int(frame["cost_nusd"].sum()),
    }


def by(frame: pd.DataFrame, key: str) -> pd.DataFrame:
    """Calls, tokens, cost and savings per value of `key` (agent, category, day, outcome)."""
    grouped = frame.groupby(key).agg(
        model_calls=("request_hash", "size"),
        cache_hits=("cache_hits", "sum"),
        tokens_in=("tokens_in", "sum"),
        tokens_out=("tokens_out", "sum"),
        cost_nusd=("cost_nusd", "sum"),
        saved_nusd=("saved_nusd", "sum"),
    )
    grouped["cost_usd"] = grouped["cost_nusd"] / NANO
    grouped["saved_usd"] = grouped["saved_nusd"] / NANO
    return grouped


def cost_report(store: Store) -> dict[str, Any]:
    """What `opsbench cost --json` prints and the cost_per_outcome asset records."""
    frame = call_frame(store)
    attributed = frame[frame["outcome"] != UNATTRIBUTED]
    outcomes = []
    for item_id, calls in attributed.groupby("outcome", sort=True):
        outcomes.append(
            {
                "item_id": item_id,
                "category": calls["category"].iloc[0],
                **_sums(calls),
                "calls": calls[
                    ["agent", "model", "prompt_version", "tokens_in", "tokens_out", "cost_nusd"]
                ].to_dict("records"),
            }
        )
    unattributed = frame[frame["outcome"] == UNATTRIBUTED]

    def table(key: str) -> dict[str, Any]:
        grouped = by(frame, key)
        return {
            str(k): {c: (int(v) if c.endswith(("nusd", "calls", "hits", "_in", "_out")) else v)
                     for c, v in row.items()}
            for k, row in grouped.to_dict("index").items()
        }  # fmt: skip

    return {
        **_sums(frame),
        "outcomes": outcomes,
        "unattributed": {
            **_sums(unattributed),
            "by_item_state_nusd": {
                str(k): int(v)
                for k, v in unattributed.groupby("item_state")["cost_nusd"].sum().items()
            },
        },
        "cost_per_outcome_usd": (
            _usd(int(attributed["cost_nusd"].sum())) / len(outcomes) if outcomes else None
        ),
        "by_workflow": table("agent"),
        "by_category": table("category"),
        "by_day": table("day"),
    }
