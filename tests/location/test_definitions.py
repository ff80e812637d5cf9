"""The code location loads, names what the README promises, and stays cheap to import."""

import subprocess
import sys

import dagster as dg


def test_code_location_has_the_agents_jobs_and_running_sensors() -> None:
    from location.definitions import defs

    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    assert {"triage", "reply_draft", "delivery", "episodic_memory"} <= keys
    assert defs.resolve_job_def("process_batch") and defs.resolve_job_def("deliver_and_remember")
    for name in ("inbox_sensor", "outcomes_sensor"):
        sensor = defs.resolve_sensor_def(name)
        assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    checks = {key.name for key in graph.asset_check_keys}
    assert "draft_failure_rate_within_limit" in checks


def test_loading_the_code_location_imports_no_heavy_library() -> None:
    # Every Dagster run re-imports the code location; lancedb and GE cost seconds each.
    code = (
        "import sys, location.definitions; "
        "print(sorted(m for m in ('lancedb', 'great_expectations', 'torch') "
        "if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
