"""Invariant 1, deferred work: what waits for a model, a budget or the kill switch resumes on its
own when its cause clears, through the same sensor the daemon ticks (driven here by the
headless runner on a clock the test moves), never by `opsbench retry`."""

import datetime as dt
import json
import subprocess
import time

import pytest
import yaml
from support import OPSBENCH, json_mail, permissive_policy

from ops_assets.governance import controls
from opsbench.headless import HeadlessRunner
from opsbench.status import deferred_report
from resources.llm.scripted import ScriptedModel
from resources.settings.config import SAMPLE_CONFIG

N = 4
START = dt.datetime(2026, 1, 14, 15, 0, tzinfo=dt.UTC)  # a Wednesday, far from any DST change


class Clock:
    def __init__(self, now: dt.datetime) -> None:
        self.now = now

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def _mail(tmp_path, count: int = N) -> list:
    return [
        json_mail(
            tmp_path / "mail",
            f"login-{n}",
            f"client{n}@client{n}.example",
            f"Login broken #{n}",
            f"Hello, I cannot log in to my account since this morning (case {n}). Can you help?",
        )
        for n in range(count)
    ]


def _setup(bench, monkeypatch, tmp_path, *, timezone: str = "UTC", daily_usd: float = 5.0):
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["identity"]["timezone"] = timezone
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config))
    monkeypatch.setenv("OPSBENCH_CONFIG", str(path))
    policy = permissive_policy(tmp_path / "policy.yaml")
    policy.write_text(policy.read_text().replace("daily_usd: 5.0", f"daily_usd: {daily_usd}"))
    monkeypatch.setenv("OPSBENCH_POLICY", str(policy))


def _runner(bench, clock: Clock) -> HeadlessRunner:
    return HeadlessRunner(bench.home, bench.store, log=lambda _m: None, clock=clock)


def _drop(bench, files: list) -> None:
    from support import drop

    drop(bench.home.inbox, files)


def _states(bench) -> dict[tuple[str, str | None], int]:
    found: dict[tuple[str, str | None], int] = {}
    for item in bench.store.items():
        key = (item["state"], item["reason_code"] if item["state"] == "deferred" else None)
        found[key] = found.get(key, 0) + 1
    return found


def _report(bench, clock: Clock) -> dict:
    from resources.settings.config import load_config

    return deferred_report(bench.store, load_config(), clock())


def test_an_outage_defers_n_items_and_all_are_delivered_when_the_model_is_back(
    bench, monkeypatch, tmp_path
) -> None:
    _setup(bench, monkeypatch, tmp_path)
    clock = Clock(START)
    monkeypatch.setattr(ScriptedModel, "down", True)
    _drop(bench, _mail(tmp_path))
    runner = _runner(bench, clock)
    assert runner.run_until_rested(timeout_s=120).rested
    assert _states(bench) == {("deferred", "model_unavailable"): N}

    # Still down when the first try is due: one probe, no chat request, a longer wait.
    (first,) = {d["next_try"] for d in _report(bench, clock)["deferred"]}
    assert dt.datetime.fromisoformat(first) == START + dt.timedelta(seconds=60)
    clock.advance(seconds=61)
    assert runner.run_until_rested(timeout_s=120).rested
    assert _states(bench) == {("deferred", "model_unavailable"): N}
    report = _report(bench, clock)
    assert {d["attempt"] for d in report["deferred"]} == {2}
    second = dt.datetime.fromisoformat(report["deferred_groups"]["model_unavailable"]["next_try"])
    assert second == clock() + dt.timedelta(seconds=120)  # doubled
    probes = bench.store.audit_for_event("model_probe")
    assert [p["detail"]["healthy"] for p in probes] == [False]

    # Back up, but not due yet: nothing moves before its time.
    monkeypatch.setattr(ScriptedModel, "down", False)
    clock.advance(seconds=60)
    assert runner.run_until_rested(timeout_s=120).rested
    assert _states(bench) == {("deferred", "model_unavailable"): N}

    clock.advance(seconds=61)
    assert runner.run_until_rested(timeout_s=120).rested
    assert _states(bench) == {("delivered", None): N}
    assert len(list(bench.home.outbox.glob("*.eml"))) == N
    assert [p["detail"]["healthy"] for p in bench.store.audit_for_event("model_probe")] == [
        False,
        True,
    ]
    resumed = [
        e
        for item in bench.store.items()
        for e in bench.store.audit_for(item["id"])
        if e["event"] == "state" and e["detail"]["to"] == "received" and e["actor"] != "intake"
    ]
    assert {e["actor"] for e in resumed} == {"recovery"}  # no operator command moved them


def test_a_budget_spent_on_day_d_is_delivered_on_d_plus_one(bench, monkeypatch, tmp_path) -> None:
    # The owner is in New York: their day ends at 05:00 UTC, after the ledger's UTC midnight.
    _setup(bench, monkeypatch, tmp_path, timezone="America/New_York", daily_usd=0.05)
    clock = Clock(START)
    # The spend ledger counts days by the same (frozen) clock.
    monkeypatch.setattr("resources.store.store.today", lambda: clock().date().isoformat())
    spent = bench.store.reserve("earlier-work", 0.05, 0.05)
    bench.store.settle(spent, 0.05)  # day D's budget is gone
    _drop(bench, _mail(tmp_path))
    runner = _runner(bench, clock)
    assert runner.run_until_rested(timeout_s=120).rested
    assert _states(bench) == {("deferred", "budget_exhausted"): N}
    group = _report(bench, clock)["deferred_groups"]["budget_exhausted"]
    assert group["next_try"] == "2026-01-15T00:00:00-05:00"  # the owner's midnight

    clock.now = dt.datetime(2026, 1, 15, 4, 59, tzinfo=dt.UTC)  # D+1 in UTC, still D for them
    assert runner.run_until_rested(timeout_s=120).rested
    assert _states(bench) == {("deferred", "budget_exhausted"): N}

    clock.now = dt.datetime(2026, 1, 15, 5, 1, tzinfo=dt.UTC)
    assert runner.run_until_rested(timeout_s=120).rested
    assert _states(bench) == {("delivered", None): N}
    assert 0 < bench.store.budget_usage()["daily"] <= 0.05  # D+1's own spend


def test_with_the_kill_switch_on_the_runner_holds_the_mail_and_returns_at_once(
    bench, monkeypatch, tmp_path
) -> None:
    _setup(bench, monkeypatch, tmp_path)
    clock = Clock(START)
    controls.kill(bench.store)
    _drop(bench, _mail(tmp_path))
    runner = _runner(bench, clock)
    started = time.monotonic()
    outcome = runner.run_until_rested(timeout_s=600)
    assert time.monotonic() - started < 15
    assert outcome.kill_switch and not outcome.rested and outcome.runs == 0
    assert _states(bench) == {("deferred", "kill_switch"): N}
    group = _report(bench, clock)["deferred_groups"]["kill_switch"]
    assert group["count"] == N and group["next_try"] is None
    assert group["waits_for"] == "opsbench resume"
    calls, _uses = bench.store.ledger()
    assert not calls

    # No clock releases them; the owner's resume does.
    clock.advance(days=2)
    assert runner.run_until_rested(timeout_s=60).kill_switch
    assert _states(bench) == {("deferred", "kill_switch"): N}
    assert controls.resume(bench.store)["received"] == N
    assert runner.run_until_rested(timeout_s=120).rested
    assert _states(bench) == {("delivered", None): N}


@pytest.mark.slow
def test_demo_with_the_kill_switch_on_returns_at_once_and_says_so(tmp_path) -> None:
    home, inbox = tmp_path / "h", tmp_path / "mail"
    files = _mail(tmp_path, 3)
    assert {f.parent for f in files} == {inbox}

    def opsbench(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*OPSBENCH, *args, "--home", str(home)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    (tmp_path / "empty").mkdir()
    assert opsbench("demo", "--inbox", str(tmp_path / "empty"), "--llm", "scripted").returncode == 0
    assert opsbench("kill", "--yes").returncode == 0
    started = time.monotonic()
    done = opsbench(
        "demo", "--inbox", str(inbox), "--llm", "scripted", "--timeout", "600", "--json"
    )
    assert time.monotonic() - started < 60
    assert done.returncode == 4, done.stderr
    assert "kill switch is on: 3 items held" in done.stderr
    summary = json.loads(done.stdout)
    assert summary["kill_switch"] == "on"
    assert summary["states"]["deferred"] == 3 and summary["states"]["received"] == 0
    assert summary["deferred"]["kill_switch"]["count"] == 3
    status = json.loads(opsbench("status", "--json").stdout)
    assert status["deferred_groups"]["kill_switch"]["waits_for"] == "opsbench resume"
