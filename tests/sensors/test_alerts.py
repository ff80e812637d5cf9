"""Alerts fire once per failed run and per failed check, with ids and reason codes only."""

import dagster as dg
from support import batch_assets

from ops_assets.observability.alerts import read_alerts
from resources.llm.resource import LLMResource
from resources.llm.scripted import ScriptedModel
from sensors.alerts import check_failure_alerts, run_failure_alerts


def _tick(bench, sensor, cursor):
    with dg.build_sensor_context(
        instance=bench.instance, resources=bench.resources, cursor=cursor
    ) as context:
        sensor(context)
        return context.cursor


def test_a_failed_run_and_its_failed_checks_raise_one_alert_each(bench) -> None:
    placeholder = "Hi [Customer's Name], thanks! We will get back to you soon."

    class Broken(LLMResource):
        def scripted_model(self) -> ScriptedModel:
            return ScriptedModel({"reply_draft": lambda _t: {"body": placeholder}})

    bench.resources["llm"] = Broken(settings=bench.resources["settings"])
    key = bench.intake()
    failed = bench.materialize(batch_assets(), key, raise_on_error=False)
    assert not failed.success

    runs_cursor = _tick(bench, run_failure_alerts, None)
    checks_cursor = _tick(bench, check_failure_alerts, None)
    alerts = read_alerts(bench.home)
    (run_alert,) = [a for a in alerts if a["kind"] == "run_failure"]
    assert run_alert["run_id"] == failed.run_id and run_alert["batch"] == key
    assert run_alert["failed_steps"] == ["reply_draft"]
    checks = {a["check"]: a for a in alerts if a["kind"] == "check_failure"}
    assert set(checks) == {"reply_draft_suite", "draft_failure_rate_within_limit"}
    assert checks["draft_failure_rate_within_limit"]["blocking"] is True
    assert {
        r for reasons in checks["reply_draft_suite"]["failing_ids"].values() for r in reasons
    } == {"placeholder"}
    assert "Customer" not in (bench.home.alerts / "alerts.jsonl").read_text()
    from opsbench.status import status

    assert status(bench.home, bench.store)["alerts"]["count"] == len(alerts) == 3

    # A failed run's record changing again (the auto-retry daemon tags it) repeats nothing.
    bench.instance.add_run_tags(failed.run_id, {"dagster/auto_retry_run_id": "later"})
    runs_cursor = _tick(bench, run_failure_alerts, runs_cursor)
    checks_cursor = _tick(bench, check_failure_alerts, checks_cursor)
    assert read_alerts(bench.home) == alerts

    # Next ticks: nothing new, nothing repeated; a good run raises nothing.
    bench.resources["llm"] = LLMResource(settings=bench.resources["settings"])
    assert bench.materialize(batch_assets()[:1], key).success
    _tick(bench, run_failure_alerts, runs_cursor)
    _tick(bench, check_failure_alerts, checks_cursor)
    assert read_alerts(bench.home) == alerts


def test_the_demo_leaves_alerts_for_a_blocked_batch(tmp_path, monkeypatch) -> None:
    """The headless runner ticks the alert sensors too, keeping their cursors in the store."""
    from opsbench.headless import HeadlessRunner
    from resources.settings.home import open_home
    from resources.store.resource import store_for

    monkeypatch.setenv("OPSBENCH_LLM", "scripted")
    home = open_home(tmp_path / "home")
    store = store_for(home.store_url)
    HeadlessRunner(home, store, log=lambda _m: None)._alerts_tick()
    assert read_alerts(home) == []
    assert store.control("headless_cursor:run_failure_alerts") is None
