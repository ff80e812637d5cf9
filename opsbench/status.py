"""`opsbench status`: what an operator checks first — states, budgets, kill switch, sensors,
and what failed last."""

import datetime as dt
import zoneinfo
from typing import Any

from resources.settings.config import Config
from resources.settings.home import Home
from resources.settings.policy import load_policy
from resources.store import Store

SENSORS = (
    "inbox_sensor",
    "outcomes_sensor",
    "approvals_sensor",
    "run_failure_alerts",
    "check_failure_alerts",
)


def sensor_states(home: Home) -> dict[str, str]:
    """From the home's Dagster instance; sensors are on by default until the UI turns them off."""
    import dagster as dg

    states = dict.fromkeys(SENSORS, "running (default)")
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        for state in instance.all_instigator_state():
            if state.instigator_type.value == "SENSOR" and state.name in states:
                states[state.name] = state.status.value.lower()
    return states


def deferred_report(store: Store, config: Config, now: dt.datetime | None = None) -> dict[str, Any]:
    """Deferred items and, per reason, how many and when the first is next tried (in the
    owner's time zone; None: only `opsbench resume` releases them)."""
    from sensors.deferred import deferrals, groups, utc_now

    zone = zoneinfo.ZoneInfo(config.identity.timezone)
    schedules = deferrals(store, config, now or utc_now())

    def when(moment: dt.datetime | None) -> str | None:
        return moment.astimezone(zone).isoformat(timespec="seconds") if moment else None

    return {
        "deferred": [
            {
                "id": d.item_id,
                "reason_code": d.reason_code,
                "attempt": d.attempt,
                "next_try": when(d.next_try),
            }
            for d in schedules
        ],
        "deferred_groups": {
            reason: {**group, "next_try": when(group["next_try"])}
            for reason, group in groups(schedules).items()
        },
    }


def status(home: Home, store: Store) -> dict[str, Any]:
    from resources.settings.config import load_config

    config = load_config()
    budgets = load_policy(config.policy_file).budgets
    usage = store.budget_usage()
    report_budgets = {
        "daily": {"limit_usd": budgets.daily_usd, "used_usd": round(usage.get("daily", 0.0), 6)}
    }
    for workflow, limit in budgets.per_workflow_usd.items():
        report_budgets[workflow] = {
            "limit_usd": limit,
            "used_usd": round(usage.get(workflow, 0.0), 6),
        }
    for entry in report_budgets.values():
        entry["left_usd"] = round(max(0.0, entry["limit_usd"] - entry["used_usd"]), 6)
    from ops_assets.observability.alerts import read_alerts

    failures = [i for i in store.items(states=["awaiting_human", "quarantined"])][-10:]
    alerts = read_alerts(home)
    return {
        "home": str(home.root),
        "states": store.state_counts(),
        "kill_switch": "on" if store.kill_switch_on() else "off",
        "budgets": report_budgets,
        "sensors": sensor_states(home),
        **deferred_report(store, config),
        "last_failures": [
            {
                "id": i["id"],
                "state": i["state"],
                "reason_code": i["reason_code"],
                "reason": i["reason"],
            }
            for i in failures
        ],
        "alerts": {"count": len(alerts), "last": alerts[-5:]},
        "model_call_latency": model_call_latency(store),
        "memory": _memory(home, store),
    }


def model_call_latency(store: Store, days: int = 30) -> dict[str, Any]:
    """Per agent, p50/p95 wall time of its paid model calls over the last `days` (ms)."""
    from resources.llm.latency import per_agent

    since = (dt.datetime.now(dt.UTC) - dt.timedelta(days=days)).isoformat()
    return dict(per_agent(store.call_latencies(since)))


def _memory(home: Home, store: Store) -> dict[str, Any]:
    """Sizes, and contradictions waiting for the owner (`opsbench memory conflicts`)."""
    from resources.memory import EPISODIC, FACTS, Memory
    from sensors.archivist import pending_rows

    memory = Memory(home.memory)
    return {
        "episodic_rows": memory.count(EPISODIC),
        "facts": memory.count(FACTS, "status = 'active'"),
        "contested_facts": memory.count(FACTS, "status = 'contested'"),
        "unconsolidated_rows": pending_rows(memory, store),
        "embedder": memory.embedding(EPISODIC).get("embedding_model"),
    }
