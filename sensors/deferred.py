"""Deferred work resumes on its own: each deferred item carries when it is next tried, and the
inbox sensor (and the headless runner, through it) releases those whose time has come into a
new batch, with no command.

- `model_unavailable`: tried again after an exponential backoff (doubled per attempt, capped),
  and only once a cheap health probe of the endpoint answers; a failed probe pushes the whole
  group's next try one backoff step further.
- `budget_exhausted`: tried again when its period ends, at the owner's midnight (the config's
  `identity.timezone`) and never before the spend ledger's own (UTC) day has turned too.
- `kill_switch`: waits for `opsbench resume`, never for a clock.

A schedule is an audit record (`deferral_scheduled`, with the attempt and the time) written
when the sensor first sees a deferral: the item's latest one is when it is next tried.
"""

import datetime as dt
import hashlib
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from resources.settings.config import Config
from resources.store import RESTING, Store

Clock = Callable[[], dt.datetime]
MODEL_DOWN, BUDGET_SPENT, KILL_SWITCH = "model_unavailable", "budget_exhausted", "kill_switch"
SCHEDULED = "deferral_scheduled"
ACTOR = "recovery"


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Deferral:
    item_id: str
    reason_code: str
    attempt: int
    next_try: dt.datetime | None
    """None: nothing but the owner releases it (the kill switch: `opsbench resume`)."""
    recorded: bool
    """The schedule is in the audit log already (False: planned on this reading)."""


def model_backoff(attempt: int, config: Config) -> dt.timedelta:
    settings = config.deferral
    seconds = settings.model_backoff_s * 2 ** min(max(attempt - 1, 0), 30)
    return dt.timedelta(seconds=min(seconds, settings.model_backoff_max_s))


def budget_resets_at(now: dt.datetime, timezone: str) -> dt.datetime:
    """The end of the budget's day: the owner's next midnight, and not before the next UTC
    midnight (the spend ledger counts UTC days; a try before that would be refused again)."""
    zone = zoneinfo.ZoneInfo(timezone)
    local = now.astimezone(zone)
    owner = dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(), tzinfo=zone)
    utc = now.astimezone(dt.UTC)
    ledger = dt.datetime.combine(utc.date() + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return max(owner.astimezone(dt.UTC), ledger)


def next_try(
    reason_code: str, attempt: int, now: dt.datetime, config: Config
) -> dt.datetime | None:
    if reason_code == KILL_SWITCH:
        return None
    if reason_code == BUDGET_SPENT:
        return budget_resets_at(now, config.identity.timezone)
    return now.astimezone(dt.UTC) + model_backoff(attempt, config)


def deferrals(store: Store, config: Config, now: dt.datetime) -> list[Deferral]:
    """Every deferred item with its schedule: the recorded one, or the one it gets now."""
    items = store.items(states=["deferred"])
    history = store.audit_of_items([i["id"] for i in items], ("state", SCHEDULED))
    return [_schedule(item, history[item["id"]], config, now) for item in items]


def _schedule(
    item: dict[str, Any], events: list[dict[str, Any]], config: Config, now: dt.datetime
) -> Deferral:
    current: dict[str, Any] | None = None
    last: dict[str, Any] | None = None  # the latest schedule since the item last came to rest
    for event in events:
        detail = event["detail"] or {}
        if event["event"] == SCHEDULED:
            current = last = detail
        elif detail.get("to") == "deferred":
            current = None  # a new deferral: not scheduled yet
        elif detail.get("to") in RESTING:
            last = None  # it came to rest otherwise: a later deferral starts afresh
    reason = item["reason_code"] or MODEL_DOWN
    if current is not None and current.get("reason_code") == reason:
        when = current.get("next_try")
        return Deferral(
            item["id"],
            reason,
            int(current["attempt"]),
            dt.datetime.fromisoformat(when) if when else None,
            True,
        )
    attempt = int(last["attempt"]) + 1 if last and last.get("reason_code") == reason else 1
    return Deferral(item["id"], reason, attempt, next_try(reason, attempt, now, config), False)


def _record(store: Store, schedules: list[Deferral]) -> None:
    store.audit_many(
        ACTOR,
        SCHEDULED,
        [
            (
                d.item_id,
                {
                    "reason_code": d.reason_code,
                    "attempt": d.attempt,
                    "next_try": d.next_try.isoformat() if d.next_try else None,
                },
            )
            for d in schedules
        ],
    )


def resume_deferred(
    store: Store, config: Config, *, now: dt.datetime, model_healthy: Callable[[], bool]
) -> list[str]:
    """Record new schedules, release what is due into new batches (their keys). An unavailable
    model is probed once per call, and only when some of its items are due."""
    if store.kill_switch_on():
        return []
    planned = deferrals(store, config, now)
    _record(store, [d for d in planned if not d.recorded and d.reason_code != KILL_SWITCH])
    due = [d for d in planned if d.next_try is not None and d.next_try <= now]
    waiting_for_model = [d for d in due if d.reason_code == MODEL_DOWN]
    if waiting_for_model:
        healthy = model_healthy()
        store.audit(None, ACTOR, "model_probe", {"healthy": healthy, "due": len(waiting_for_model)})
        if not healthy:
            _record(
                store,
                [
                    Deferral(
                        d.item_id,
                        d.reason_code,
                        d.attempt + 1,
                        next_try(d.reason_code, d.attempt + 1, now, config),
                        True,
                    )
                    for d in waiting_for_model
                ],
            )
            due = [d for d in due if d.reason_code != MODEL_DOWN]
    return _release(store, config, due, now)


def _release(store: Store, config: Config, due: list[Deferral], now: dt.datetime) -> list[str]:
    keys = []
    size = config.batching.max_items
    for start in range(0, len(due), size):
        chunk = due[start : start + size]
        digest = hashlib.sha256("|".join(sorted(d.item_id for d in chunk)).encode()).hexdigest()
        key = f"resume-{now.astimezone(dt.UTC):%Y%m%dT%H%M%S}-{digest[:8]}"
        store.create_batch(key, "deferred", len(chunk))
        moved = [
            d
            for d in chunk
            if store.transition(
                d.item_id,
                "received",
                actor=ACTOR,
                reason_code="resumed",
                reason=f"tried again after {d.reason_code} (attempt {d.attempt})",
                expect=("deferred",),
                batch=key,
                route=None,
            )
        ]
        if moved:
            keys.append(key)
    return keys


def groups(schedules: list[Deferral]) -> dict[str, dict[str, Any]]:
    """Per reason: how many items rest, and when the first of them is next tried."""
    found: dict[str, dict[str, Any]] = {}
    for d in schedules:
        group = found.setdefault(d.reason_code, {"count": 0, "next_try": None})
        group["count"] += 1
        if d.next_try is not None and (group["next_try"] is None or d.next_try < group["next_try"]):
            group["next_try"] = d.next_try
    for reason, group in found.items():
        group["waits_for"] = {
            MODEL_DOWN: "the model's health probe, with backoff",
            BUDGET_SPENT: "the budget's day to end",
            KILL_SWITCH: "opsbench resume",
        }.get(reason, "its next try")
    return found
