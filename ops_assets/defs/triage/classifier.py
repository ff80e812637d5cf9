"""The triage classifier: logistic regression on the memory embeddings, with calibrated
probabilities, trained on the shipped seed labels plus the owner's corrections.

Each mail is read twice: as its MiniLM embedding (meaning, in English best) and as character
n-grams (TF-IDF, fitted on the training rows), which carry the other languages and the tell-tale
words of spam that a small English embedder blurs. On the evaluation set the n-grams lifted
accuracy from 0.72 to 0.81 (benchmarks/triage.py).

It is the cascade's cheap middle stage (`cascade.py`): a few milliseconds a mail on the CPU,
no model call. Corrections weigh more than seed rows, and a correction almost identical to a
new mail decides it outright: the owner said what this kind of mail is, and the next one like
it should not need saying again. `version` hashes the training rows, the embedder and this
module's code, so a retrained classifier is a new version and stale decisions can be found.

scikit-learn is imported inside the functions that need it (it takes a second to import).
"""

import hashlib
import json
import pickle
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any, Literal, NotRequired, TypedDict, cast, get_args

from ops_assets.defs.triage.contract import Category
from resources.memory.embeddings import Embedder

CATEGORIES: tuple[str, ...] = get_args(Category)
# A correction counts as this many seed rows: the owner's word on their own mail.
CORRECTION_WEIGHT = 5.0
# Cosine similarity from which a correction is the same mail again (a resent invoice query,
# the same newsletter next week) and its label wins with the similarity as confidence.
SAME_AS_CORRECTION = 0.92
# Embedded text is cut here: MiniLM reads 256 word pieces; the opening says what a mail wants.
MAX_CHARS = 1200
CALIBRATION_FOLDS = 5
FILE_NAME = "triage_classifier.pkl"


# One labelled mail: a seed row, an evaluation row or an owner's correction. Functional form:
# the rows are JSON with a "from" key, which the class syntax cannot name.
LabelRow = TypedDict(
    "LabelRow",
    {
        "id": str,
        "from": NotRequired[str],
        "subject": str,
        "body": str,
        "category": Category,
        "language": NotRequired[str],
        "kind": NotRequired[str],
        "headers": NotRequired[dict[str, str]],
    },
)


def text_of(subject: str | None, body: str | None) -> str:
    """What the classifier reads of a mail: the subject, then the body, cut to fit."""
    return f"{subject or ''}\n{body or ''}"[:MAX_CHARS]


def item_text(item: dict[str, Any]) -> str:
    return text_of(item.get("subject"), item.get("body"))


def seed_rows() -> list[LabelRow]:
    """The labelled seed set shipped with the package (`seed_labels.jsonl`)."""
    text = files("ops_assets.defs.triage").joinpath("seed_labels.jsonl").read_text("utf-8")
    return read_rows(text)


def read_rows(text: str) -> list[LabelRow]:
    rows = [cast(LabelRow, json.loads(line)) for line in text.splitlines() if line.strip()]
    for row in rows:
        if row["category"] not in CATEGORIES:
            raise ValueError(f"row {row['id']}: unknown category {row['category']!r}")
    return rows


def code_hash() -> str:
    """This module's code, hashed: what a retrain with the same rows would still change."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:12]


def training_version(rows: list[LabelRow], corrections: list[LabelRow], embedder: str) -> str:
    """Hash of what the classifier learns from and how: rows, embedder, this code."""
    digest = hashlib.sha256()
    digest.update(code_hash().encode())
    digest.update(embedder.encode())
    for group in (rows, corrections):
        for row in group:
            digest.update(json.dumps([row["category"], row["subject"], row["body"]]).encode())
        digest.update(b"\x00")
    return f"triage-clf-{digest.hexdigest()[:12]}"


class Reading(tuple[Category, float]):
    """(category, calibrated confidence), as callers always read it, with the whole calibrated
    distribution beside it: the cascade weighs the model's answer against the classifier's
    probability for that answer, not only against its first choice."""

    distribution: dict[str, float]

    def __new__(
        cls, category: Category, confidence: float, distribution: dict[str, float] | None = None
    ) -> "Reading":
        reading = super().__new__(cls, (category, confidence))
        reading.distribution = dict(distribution or {category: confidence})
        return reading

    def __getnewargs__(self) -> tuple[Category, float, dict[str, float]]:  # type: ignore[override]
        return (self[0], self[1], self.distribution)


@dataclass
class TriageClassifier:
    version: str
    embedder_name: str
    model: Any
    """A fitted scikit-learn CalibratedClassifierCV over LogisticRegression."""
    ngrams: Any
    """The fitted TfidfVectorizer of character n-grams."""
    corrections: list[tuple[list[float], Category]] = field(default_factory=list)
    """Embedded corrections with their label, for the same-mail-again rule."""

    def predict(self, texts: list[str], embedder: Embedder) -> list[tuple[Category, float]]:
        """(category, calibrated confidence) for each text, in order."""
        if not texts:
            return []
        if embedder.name != self.embedder_name:
            raise ValueError(
                f"classifier {self.version} was trained on {self.embedder_name}, "
                f"not {embedder.name}"
            )
        import numpy as np

        vectors = np.asarray(embedder.embed(texts), dtype=float)
        probabilities = self.model.predict_proba(_features(vectors, self.ngrams.transform(texts)))
        classes = [str(c) for c in self.model.classes_]
        answers: list[tuple[Category, float]] = []
        for vector, row in zip(vectors, probabilities, strict=True):
            best = int(np.argmax(row))
            distribution = {c: float(p) for c, p in zip(classes, row, strict=True)}
            answer = Reading(cast(Category, classes[best]), float(row[best]), distribution)
            if self.corrections:
                known = np.asarray([v for v, _ in self.corrections])
                similarity = known @ vector
                nearest = int(np.argmax(similarity))
                if similarity[nearest] >= SAME_AS_CORRECTION:
                    label = self.corrections[nearest][1]
                    sure = float(min(similarity[nearest], 1.0))
                    # The owner's word on the same mail: the rest is shared by the others.
                    rest = (1.0 - sure) / max(len(classes) - 1, 1)
                    answer = Reading(
                        label, sure, {c: (sure if c == label else rest) for c in classes}
                    )
            answers.append(answer)
        return answers

    def save(self, path: Path) -> Path:
        """Write atomically (a reader never sees half a file)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(path.name + ".partial")
        partial.write_bytes(pickle.dumps(self))
        partial.replace(path)
        return path


def default_path(home_root: Path) -> Path:
    return home_root / "models" / FILE_NAME


def load(path: Path) -> TriageClassifier:
    """A classifier this home saved. Pickle runs code on load: only the home's own file,
    written by `save`, is ever read here."""
    loaded = pickle.loads(path.read_bytes())  # noqa: S301 (only the home's own file)
    if not isinstance(loaded, TriageClassifier):
        raise ValueError(f"{path} does not hold a triage classifier")
    return loaded


def train(
    embedder: Embedder,
    corrections: list[LabelRow] | None = None,
    *,
    rows: list[LabelRow] | None = None,
    method: Literal["sigmoid", "isotonic"] = "sigmoid",
) -> TriageClassifier:
    """Fit on `rows` (default: the seed set) plus the owner's `corrections`."""
    import numpy as np
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    base = seed_rows() if rows is None else rows
    extra = corrections or []
    everything = base + extra
    labels = [row["category"] for row in everything]
    missing = set(CATEGORIES) - set(labels)
    if missing:
        raise ValueError(f"no training rows for {sorted(missing)}")
    texts = [text_of(r["subject"], r["body"]) for r in everything]
    vectors = np.asarray(embedder.embed(texts), dtype=float)
    ngrams = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5), sublinear_tf=True, min_df=2)
    grams = ngrams.fit_transform(texts)
    weights = np.asarray([1.0] * len(base) + [CORRECTION_WEIGHT] * len(extra))
    # Sigmoid calibration per fold: isotonic needs more rows per class than a seed set has.
    model = CalibratedClassifierCV(
        LogisticRegression(C=10.0, max_iter=2000),
        method=method,
        cv=CALIBRATION_FOLDS,
    )
    model.fit(_features(vectors, grams), labels, sample_weight=weights)
    remembered = [
        ([float(x) for x in vectors[len(base) + n]], row["category"]) for n, row in enumerate(extra)
    ]
    return TriageClassifier(
        version=training_version(base, extra, embedder.name),
        embedder_name=embedder.name,
        model=model,
        ngrams=ngrams,
        corrections=remembered,
    )


def _features(vectors: Any, grams: Any) -> Any:
    """Embedding and n-grams side by side, one sparse row per mail (both are unit length)."""
    from scipy.sparse import csr_matrix, hstack

    return hstack([csr_matrix(vectors), grams]).tocsr()
