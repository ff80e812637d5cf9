"""What the triage asset needs around the cascade: the home's classifier (or none), the
output a decision by code writes, and the record of which stage decided with what confidence.

A mail the rules or the classifier decide costs no model call, so its triage row is written by
code: the category, the subject as its summary, the sender's name, the first amount code reads.
The drafter still reads the mail itself; the row's `model` names the classifier's version.
"""

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ops_assets.agents.agent_run import output_row
from ops_assets.defs.triage import cascade, classifier, prompt, training
from ops_assets.defs.triage.contract import Category
from ops_assets.governance.amounts import amounts
from resources.llm.hashing import canonical_json, text_hash
from resources.memory import EmbeddingError, Memory

_HERE = Path(__file__).resolve().parent


def _code_hash() -> str:
    digest = hashlib.sha256()
    for name in ("cascade.py", "rules.py", "spam_rules.py", "stages.py"):
        digest.update((_HERE / name).read_bytes())
    return digest.hexdigest()[:8]


# The triage asset's code version: its prompt and the cascade's code. The classifier it reads
# is upstream data (the triage_classifier asset), so a retrain marks triage stale on its own.
VERSION = f"{prompt.VERSION}+cascade-{_code_hash()}"


@dataclass
class ClassifierStage:
    model: classifier.TriageClassifier | None
    memory: Memory | None
    status: str
    """"ready", "untrained" (no classifier in this home yet) or "unavailable"."""

    @property
    def version(self) -> str | None:
        return self.model.version if self.model is not None else None

    @classmethod
    def load(cls, home_root: Path, memory: Memory) -> "ClassifierStage":
        if not classifier.default_path(home_root).exists():
            return cls(None, memory, "untrained")  # no embedder loaded for nothing
        try:
            model = training.current(home_root, memory.embedder.name)
        except (EmbeddingError, ValueError, OSError):
            return cls(None, memory, "unavailable")
        return cls(model, memory, "ready" if model is not None else "untrained")

    def classify(self, items: list[dict[str, Any]]) -> list[tuple[Category, float] | None]:
        """The classifier's answer per item; None for all when there is none (or the
        embedder failed: the cascade then asks the model, as before it existed)."""
        if self.model is None or self.memory is None or not items:
            return [None] * len(items)
        try:
            answers = self.model.predict(
                [classifier.item_text(i) for i in items], self.memory.embedder
            )
        except (EmbeddingError, ValueError):
            self.status = "unavailable"
            return [None] * len(items)
        return list(answers)


def decision_fields(decision: cascade.Decision) -> dict[str, Any]:
    """The decision as fields of the stored triage output."""
    confidence = None if decision.confidence is None else round(decision.confidence, 3)
    return {"stage": decision.stage, "confidence": confidence}


def detail(decision: cascade.Decision, version: str | None) -> dict[str, Any]:
    """The decision for the audit trail and the asset's metadata (no mail text)."""
    found: dict[str, Any] = {**decision_fields(decision), "classifier": version}
    if decision.rule:
        found["rule"] = decision.rule
    if decision.classified is not None:
        found["classified"] = [decision.classified[0], round(decision.classified[1], 3)]
    if decision.modelled is not None:
        found["modelled"] = decision.modelled
    if decision.risky:
        found["risky"] = sorted(decision.risky)
    return found


def code_output(item: dict[str, Any], decision: cascade.Decision, urgency: str) -> dict[str, Any]:
    """A TriageResult written by code for a mail decided without the model."""
    subject = " ".join(str(item.get("subject") or "").split())
    body = " ".join(str(item.get("body") or "").split())
    found = amounts(f"{item.get('subject') or ''}\n{item.get('body') or ''}")
    return {
        "category": decision.category,
        "summary": (subject or body[:120] or "(no subject)")[:200],
        "customer_name": str(item.get("sender_name") or "")[:80],
        "company": "",
        "amount": f"{found[0]:g}"[:40] if found else "",
        "question": "",
        "urgency": urgency,
        **decision_fields(decision),
    }


def same_decision(previous: dict[str, Any] | None, row: dict[str, Any]) -> bool:
    """The stored row says what this one says, but for the confidence: a retrained classifier
    that is a little more or less sure changes nothing the owner must look at again."""
    if previous is None or previous["valid"] != row["valid"]:
        return False
    before, now = dict(previous["output"] or {}), dict(row["output"] or {})
    before.pop("confidence", None), now.pop("confidence", None)
    return before == now


def code_row(
    item: dict[str, Any],
    output: dict[str, Any],
    failure: str | None,
    batch: str,
    run_id: str,
    version: str | None,
) -> dict[str, Any]:
    """The output row of a decision by code, with the provenance a model row has (no call:
    no tokens, no cost, no request hash)."""
    row = output_row(
        asset="triage",
        batch=batch,
        run_id=run_id,
        prompt_version=VERSION,
        result=None,
        output=output,
        input_hash=text_hash(canonical_json([classifier.item_text(item), version])),
        failure=failure,
    )
    return {**row, "item_id": item["id"], "model": f"classifier:{version}"}
