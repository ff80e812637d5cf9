"""The resources every asset asks for by role, and the executor, found by the defs folder.

Each resource reads the home's settings (resources/settings/); none declares run-config fields,
so a launch can never redirect a model, a store or a home (see the trust section of the README).

The executor is chosen by the Dagster instance a run belongs to, not by code: steps run in the
run's own process, unless the instance's folder (DAGSTER_HOME) holds `celery.yaml` beside its
`dagster.yaml` (deploy/README.md): then every step is a task on celery workers."""

from pathlib import Path

import dagster as dg

from resources.connectors.resource import ConnectorsResource
from resources.llm.resource import LLMResource
from resources.memory import MemoryResource
from resources.settings import SettingsResource
from resources.store.resource import StoreResource

CELERY_YAML = "celery.yaml"
"""dagster-celery's own worker config (`execution: config: ...`), read by the run's executor
and by `dagster-celery worker start -y`, so both ends meet on one broker with one setting."""


def resource_defs(settings: SettingsResource | None = None) -> dict[str, dg.ConfigurableResource]:
    settings = settings or SettingsResource()
    return {
        "settings": settings,
        "store": StoreResource(settings=settings),
        "llm": LLMResource(settings=settings),
        "connectors": ConnectorsResource(settings=settings),
        "memory": MemoryResource(settings=settings),
    }


def celery_profile(instance: dg.DagsterInstance) -> Path | None:
    """The instance's celery.yaml, if it has one (then its steps go to celery workers)."""
    path = Path(instance.root_directory) / CELERY_YAML
    return path if path.is_file() else None


@dg.executor(name="opsbench", config_schema=dg.in_process_executor.config_schema.config_type)
def opsbench_executor(init_context: dg.InitExecutorContext) -> dg.Executor:
    # In process by default: one process per run, each step in it; the store's transactions
    # and the model-call claims keep two runs apart, steps of one run need no process of
    # their own. With celery.yaml, steps are tasks: a worker that dies before it acknowledges
    # one (acks_late) leaves it to another worker, and the ledgers make the re-run pay nothing
    # twice and send nothing twice.
    profile = celery_profile(init_context.instance)
    if profile is None:
        return dg.in_process_executor.executor_creation_fn(init_context)  # type: ignore[misc]
    from dagster_celery import celery_executor
    from dagster_celery.cli import get_validated_config

    celery_context = dg.InitExecutorContext(
        job=init_context.job,
        executor_def=celery_executor,
        executor_config=get_validated_config(str(profile)),
        instance=init_context.instance,
    )
    return celery_executor.executor_creation_fn(celery_context)  # type: ignore[misc]


@dg.definitions
def resources() -> dg.Definitions:
    return dg.Definitions(resources=resource_defs(), executor=opsbench_executor)
