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


def test_resources_and_the_executor_come_from_the_defs_folder() -> None:
    from location.definitions import defs

    assert set(defs.resources or {}) == {"settings", "store", "llm", "connectors", "memory"}
    from ops_assets.defs.resources import opsbench_executor

    # in process unless the instance has a celery profile (deploy/README.md)
    assert defs.executor is opsbench_executor
    assert {s.name for s in defs.schedules or []} >= {"follow_up_schedule", "archivist_schedule"}


def _package(root, name: str, modules: dict[str, str]):  # type: ignore[no-untyped-def]
    import importlib

    folder = root / name
    folder.mkdir()
    (folder / "__init__.py").write_text("")
    for module, source in modules.items():
        (folder / f"{module}.py").write_text(source)
    sys.path.insert(0, str(root))
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(str(root))


SENSOR = """
import dagster as dg

@dg.sensor(name={name!r}, target="*")
def {func}(context):
    return None
"""


def test_a_new_trigger_module_is_found_without_an_edit(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from location.triggers import triggers

    package = _package(
        tmp_path,
        "triggers_found",
        {
            "first": SENSOR.format(name="mail_arrived", func="mail_arrived"),
            # imported into a second module: still one trigger
            "second": "from triggers_found.first import mail_arrived\n"
            + SENSOR.format(name="nightly", func="nightly"),
        },
    )
    found = triggers(package)
    assert sorted(s.name for s in found.sensors or []) == ["mail_arrived", "nightly"]


def test_two_triggers_with_one_name_are_an_error(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import pytest

    from location.triggers import triggers

    package = _package(
        tmp_path,
        "triggers_clash",
        {
            "first": SENSOR.format(name="mail_arrived", func="one"),
            "second": SENSOR.format(name="mail_arrived", func="two"),
        },
    )
    with pytest.raises(ValueError, match="mail_arrived"):
        triggers(package)
