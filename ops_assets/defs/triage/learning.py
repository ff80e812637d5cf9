"""The triage classifier as an asset: retrained when enough new labels arrived
(`sensors/retrain.py`), its data version the hash of its training rows, embedder and code, so
triage (which depends on it) shows as stale in the UI after each retrain."""

from pathlib import Path

import dagster as dg

from ops_assets.defs.triage import classifier, training
from resources.memory import MemoryResource
from resources.settings import SettingsResource
from resources.store.labels import label_count
from resources.store.resource import StoreResource

GROUP = "triage_learning"
CODE_VERSION = "triage-clf-code-" + classifier.code_hash()


@dg.asset(
    group_name=GROUP,
    code_version=CODE_VERSION,
    kinds={"scikitlearn"},
)
def triage_classifier(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    memory: MemoryResource,
) -> dg.MaterializeResult:
    """The triage classifier, trained on the seed set plus every label the owner gave."""
    st = store.get()
    embedder = memory.get(st).embedder
    home_root = Path(settings.home_dir().root)
    fitted = training.fit(st, embedder, home_root)
    context.log.info(f"triage classifier {fitted.version} on {embedder.name}")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(fitted.version),
        metadata={
            "classifier_version": fitted.version,
            "embedder": embedder.name,
            "seed_rows": len(classifier.seed_rows()),
            "owner_labels": len(fitted.corrections),
            "labels_seen": label_count(st),
            "path": str(classifier.default_path(home_root)),
        },
    )
