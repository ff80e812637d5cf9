"""The classifier a home triages with: trained on the shipped seed set plus every label the
owner gave (`resources.store.labels`), saved under `<home>/models`, read by the triage asset.

The `triage_classifier` asset (`learning.py`) is the only writer. Until it has run once, a
home has no classifier and the cascade sends every mail the rules let through to the model.
"""

from pathlib import Path

from ops_assets.defs.triage import classifier
from ops_assets.defs.triage.classifier import CATEGORIES, LabelRow, TriageClassifier
from resources.memory.embeddings import Embedder
from resources.store import Store
from resources.store.labels import Label, labels


def label_rows(found: list[Label]) -> list[LabelRow]:
    """The labels that confirm a category, as training rows."""
    return [
        LabelRow(
            id=f"label-{label['item_id']}",
            subject=label["subject"],
            body=label["body"],
            category=label["category"],  # type: ignore[typeddict-item]
            kind=label["source"],
        )
        for label in found
        if label["category"] in CATEGORIES
    ]


def fit(store: Store, embedder: Embedder, home_root: Path) -> TriageClassifier:
    """Train on the seed set and the owner's labels, save it as the home's classifier."""
    fitted = classifier.train(embedder, label_rows(labels(store)))
    fitted.save(classifier.default_path(home_root))
    return fitted


def current(home_root: Path, embedder_name: str) -> TriageClassifier | None:
    """The home's classifier, when there is one trained on this embedder (a classifier on
    other vectors would read nonsense: the cascade goes on without it)."""
    path = classifier.default_path(home_root)
    if not path.exists():
        return None
    loaded = classifier.load(path)
    return loaded if loaded.embedder_name == embedder_name else None
