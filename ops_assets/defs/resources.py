"""The resources every asset asks for by role, found by the defs folder like the agents.

Each resource reads the home's settings (resources/settings/); none declares run-config fields,
so a launch can never redirect a model, a store or a home (see the trust section of the README)."""

import dagster as dg

from resources.connectors.resource import ConnectorsResource
from resources.llm.resource import LLMResource
from resources.memory import MemoryResource
from resources.settings import SettingsResource
from resources.store.resource import StoreResource


def resource_defs(settings: SettingsResource | None = None) -> dict[str, dg.ConfigurableResource]:
    settings = settings or SettingsResource()
    return {
        "settings": settings,
        "store": StoreResource(settings=settings),
        "llm": LLMResource(settings=settings),
        "connectors": ConnectorsResource(settings=settings),
        "memory": MemoryResource(settings=settings),
    }


@dg.definitions
def resources() -> dg.Definitions:
    # One process per run, each step in it: the store's transactions and the model-call
    # claims keep two runs apart; steps of one run need no process of their own.
    return dg.Definitions(resources=resource_defs(), executor=dg.in_process_executor)
