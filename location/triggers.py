"""The triggers room (sensors/), found rather than listed: every sensor and schedule defined at
the top of a module in `sensors/` joins the code location, so a new trigger is a new module
there and nothing else."""

import importlib
import pkgutil
from types import ModuleType

import dagster as dg

import sensors

Trigger = dg.SensorDefinition | dg.ScheduleDefinition


def _modules(package: ModuleType) -> list[ModuleType]:
    found = [package]
    for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
        found.append(importlib.import_module(info.name))
    return found


def triggers(package: ModuleType = sensors) -> dg.Definitions:
    """One Definitions of every trigger in `package`; an object imported into several modules
    counts once, and two different triggers under one name are an error, not a silent pick."""
    by_name: dict[str, Trigger] = {}
    for module in _modules(package):
        for value in vars(module).values():
            if not isinstance(value, Trigger):
                continue
            known = by_name.setdefault(value.name, value)
            if known is not value:
                raise ValueError(f"two triggers are named {value.name!r} in {package.__name__}")
    found = sorted(by_name.values(), key=lambda trigger: trigger.name)
    return dg.Definitions(
        sensors=[t for t in found if isinstance(t, dg.SensorDefinition)],
        schedules=[t for t in found if isinstance(t, dg.ScheduleDefinition)],
    )
