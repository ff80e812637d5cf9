"""The overview page's numbers: items by state today, spend against each budget, cost per
outcome per day, failure rate per agent, latency from received to rested, and per policy
rule what the owner and the policy decided over the last 30 days."""

import datetime as dt
from collections import Counter, defaultdict
from typing import Any

from ops_assets.observability.costs import UNATTRIBUTED, call_frame
from ops_assets.quality.failures import HUMAN_CORRECTION
from resources.llm.latency import per_agent, percentile
from resources.settings.config import Config
from resources.settings.policy import load_policy
from resources.store import Store
from resources.store.states import RESTING

AGENTS = ("triage", "reply_draft", "review")
WINDOW_DAYS = 30


def _ago(days: int) -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat()


def _today() -> str:
    return dt.datetime.now(dt.UTC).date().isoformat()


def states_today(items: list[dict[str, Any]]) -> dict[str, int]:
    """Items received today (UTC) by the state they are in now."""
    today = _today()
    return dict(Counter(i["state"] for i in items if (i["created_at"] or "") >= today))


def budgets(store: Store, config: Config) -> list[dict[str, Any]]:
    limits = load_policy(config.policy_file).budgets
    usage = store.budget_usage()
    rows = [("daily", limits.daily_usd), *limits.per_workflow_usd.items()]
    return [
        {
            "name": name,
            "limit_usd": limit,
            "used_usd": round(usage.get(name, 0.0), 6),
            "share": min(1.0, usage.get(name, 0.0) / limit) if limit else 0.0,
        }
        for name, limit in rows
    ]


def cost_per_outcome(store: Store) -> list[dict[str, Any]]:
    """Per day: what the calls behind delivered outcomes cost, divided by those outcomes."""
    frame = call_frame(store)
    attributed = frame[frame["outcome"] != UNATTRIBUTED]
    days = []
    for day, calls in attributed.groupby("day", sort=True):
        outcomes = calls["outcome"].nunique()
        total = int(calls["cost_nusd"].sum()) / 1e9
        days.append({"day": str(day), "outcomes": int(outcomes), "usd": round(total / outcomes, 6)})
    return days


def failure_rates(store: Store, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per agent, of the items it produced an output for in the window, how many failed (and,
    apart, how many the owner corrected)."""
    since = _ago(WINDOW_DAYS)
    produced: Counter[str] = Counter()
    for item in items:
        if (item["created_at"] or "") < since:
            continue
        for output in store.outputs_for(item["id"]):
            produced[output["asset"]] += 1
    failed: dict[str, set[str]] = defaultdict(set)
    corrected: dict[str, set[str]] = defaultdict(set)
    for failure in store.failures():
        if (failure["at"] or "") >= since and failure["item_id"]:
            # The owner's edits and rejections are counted apart: a label, not a failure.
            into = corrected if failure["kind"] == HUMAN_CORRECTION else failed
            into[failure["agent"]].add(failure["item_id"])
    agents = sorted(set(produced) | set(failed), key=lambda a: (a not in AGENTS, a))
    return [
        {
            "agent": agent,
            "outputs": produced[agent],
            "failed": len(failed[agent]),
            "corrected": len(corrected[agent]),
            "rate": len(failed[agent]) / produced[agent] if produced[agent] else 0.0,
        }
        for agent in agents
    ]


def latency(store: Store, items: list[dict[str, Any]]) -> dict[str, Any] | None:
    """Seconds from registration to the latest move into a resting state (p50, p95)."""
    since = _ago(WINDOW_DAYS)
    rested = [i["id"] for i in items if i["state"] in RESTING and (i["created_at"] or "") >= since]
    trails = store.audit_of_items(rested, ["registered", "state"])
    seconds = []
    for trail in trails.values():
        start = next((a["at"] for a in trail if a["event"] == "registered"), None)
        ends = [a["at"] for a in trail if (a["detail"] or {}).get("to") in RESTING]
        if start and ends:
            gap = dt.datetime.fromisoformat(ends[-1]) - dt.datetime.fromisoformat(start)
            seconds.append(gap.total_seconds())
    if not seconds:
        return None
    return {
        "items": len(seconds),
        "p50_s": round(percentile(seconds, 0.5), 1),
        "p95_s": round(percentile(seconds, 0.95), 1),
    }


def decisions_per_rule(store: Store) -> list[dict[str, Any]]:
    """Per policy rule over the window: sent on its own, approved by the owner as drafted,
    edited, written by the owner, rejected ("which steps are safe to automate")."""
    since = _ago(WINDOW_DAYS)
    approvals = [a for a in store.approvals_after(0) if (a["at"] or "") >= since]
    trails = store.audit_of_items(sorted({a["item_id"] for a in approvals}), ["state"])
    table: dict[str, Counter[str]] = defaultdict(Counter)
    for approval in approvals:
        if approval["actor"] == "policy":
            outcome = "auto" if approval["decision"] == "approved" else "forbidden"
            table[approval["note"] or "default"][outcome] += 1
            continue
        held = [  # the rule (or escalation) it waited under last before this decision
            a["detail"].get("rule") or a["detail"].get("reason_code")
            for a in trails.get(approval["item_id"], [])
            if a["at"] <= approval["at"]
            and (a["detail"] or {}).get("to") in ("awaiting_approval", "awaiting_human")
        ]
        if approval["note"] == "resend":
            continue  # a held send's "send again" decides no rule
        rule = held[-1] if held else "unknown"
        if approval["decision"] == "rejected":
            outcome = "rejected"
        elif approval["note"] == "owner_reply":
            outcome = "written"
        elif approval["note"] == "edited":
            outcome = "edited"
        else:
            outcome = "approved"
        table[rule or "default"][outcome] += 1
    return [{"rule": rule, **counts} for rule, counts in sorted(table.items())]


def overview(store: Store, config: Config) -> dict[str, Any]:
    items = store.items()
    return {
        "states_today": states_today(items),
        "states_all": store.state_counts(),
        "budgets": budgets(store, config),
        "cost_per_outcome": cost_per_outcome(store),
        "failure_rates": failure_rates(store, items),
        "latency": latency(store, items),
        "model_latency": per_agent(store.call_latencies(_ago(WINDOW_DAYS))),
        "rules": decisions_per_rule(store),
        "kill_switch": store.kill_switch_on(),
    }
