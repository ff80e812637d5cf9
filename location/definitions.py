"""The code location: agents from the defs folder, resources by role, sensors from sensors/."""

from pathlib import Path

import dagster as dg

from resources.connectors.resource import ConnectorsResource
from resources.llm.resource import LLMResource
from resources.memory import MemoryResource
from resources.settings import SettingsResource
from resources.store.resource import StoreResource
from sensors import ALL_SENSORS
from sensors.archivist import archivist_schedule
from sensors.follow_ups import follow_up_schedule

REPO = Path(__file__).resolve().parent.parent


def resource_defs(settings: SettingsResource | None = None) -> dict[str, dg.ConfigurableResource]:
    settings = settings or SettingsResource()
    return {
        "settings": settings,
        "store": StoreResource(settings=settings),
        "llm": LLMResource(settings=settings),
        "connectors": ConnectorsResource(settings=settings),
        "memory": MemoryResource(settings=settings),
    }


defs = dg.Definitions.merge(
    dg.load_from_defs_folder(
        path_within_project=Path(__file__).resolve().parent.parent / "ops_assets"
    ),
    dg.Definitions(
        sensors=ALL_SENSORS,
        schedules=[follow_up_schedule, archivist_schedule],
        resources=resource_defs(),
        executor=dg.in_process_executor,
    ),
)
