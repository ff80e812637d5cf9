"""Dedupe and contradiction rules for new facts, decided by code.

A drafted fact is, against the facts already known in its slot (the contact, or their
company; the project; the kind and topic):
- the same fact: the known fact gains the new sources — no new row, so re-running
  consolidation adds nothing. The same words always; for open questions and unnamed topics
  also vectors at least `duplicate_similarity` alike;
- a contradiction: a preference or commitment on a named topic that differs from an active
  one. Kept as `contested`, pointing at the fact it contradicts, for the owner to settle
  (`opsbench memory resolve`); the known fact stays as it is. Vectors are not trusted here:
  "email, never phone" and "phone, never email" embed 0.97 alike, so a paraphrase of a known
  preference goes to the owner rather than risking a silent merge of opposites;
- otherwise a new active fact.
"""

import hashlib
import math
import re
from dataclasses import dataclass, field
from typing import Any

from resources.store import now_iso

CONTRADICTABLE = ("preference", "commitment")
LIVE = ("active", "contested")


def normalized(statement: str) -> str:
    return " ".join(re.findall(r"\w+", statement.lower()))


def slot(fact: dict[str, Any]) -> tuple[str, ...]:
    """Where a fact lives: its scope's key (the contact, or the company), project, kind and
    topic."""
    owner = fact["company"] if fact["scope"] == "company" else fact["contact"]
    project = normalized(fact.get("project") or "")
    return (fact["scope"], owner, project, fact["kind"], fact["topic"])


def contradictable(fact: dict[str, Any]) -> bool:
    return fact["kind"] in CONTRADICTABLE and fact["topic"] != "other"


def fact_id(fact: dict[str, Any]) -> str:
    key = "|".join((*slot(fact), normalized(fact["text"])))
    return "f_" + hashlib.sha256(key.encode()).hexdigest()[:16]


def duplicate_rate(facts: list[dict[str, Any]]) -> tuple[int, int]:
    """(active facts, how many of them repeat another's slot and words)."""
    active = [f for f in facts if f["status"] == "active"]
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    for fact in active:
        key = (*slot(fact), normalized(fact["text"]))
        repeats += key in seen
        seen.add(key)
    return len(active), repeats


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
    return dot / norm if norm else 0.0


@dataclass
class Consolidation:
    """What one run decided; `rows` are the fact rows to write (new and updated)."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    new: list[str] = field(default_factory=list)
    merged: list[str] = field(default_factory=list)
    contested: list[str] = field(default_factory=list)


def consolidate(
    drafts: list[dict[str, Any]],
    known: list[dict[str, Any]],
    *,
    similarity: float,
    outcome: Consolidation | None = None,
) -> Consolidation:
    """`drafts`: fact rows with `vector`, `source_rows`, `source_items` and provenance;
    `known`: the live facts of the same scopes, with vectors."""
    outcome = outcome or Consolidation()
    pool = {f["fact_id"]: f for f in known if f["status"] in LIVE}
    pool.update(outcome.rows)
    for draft in drafts:
        same_slot = [f for f in pool.values() if slot(f) == slot(draft)]
        twin = pool.get(draft["fact_id"])
        if twin is None and not contradictable(draft):
            twin = next(
                (f for f in same_slot if cosine(f["vector"], draft["vector"]) >= similarity),
                None,
            )
        if twin is not None:
            merged = _with_sources(twin, draft)
            if merged is not twin:
                outcome.rows[twin["fact_id"]] = pool[twin["fact_id"]] = merged
            if twin["fact_id"] not in outcome.new:
                outcome.merged.append(twin["fact_id"])
            continue
        rival = next(
            (f for f in same_slot if f["status"] == "active" and contradictable(draft)), None
        )
        row = {**draft, "status": "contested" if rival else "active"}
        row["contradicts"] = rival["fact_id"] if rival else ""
        outcome.rows[row["fact_id"]] = pool[row["fact_id"]] = row
        (outcome.contested if rival else outcome.new).append(row["fact_id"])
    return outcome


def _with_sources(fact: dict[str, Any], draft: dict[str, Any]) -> dict[str, Any]:
    rows = sorted(set(fact["source_rows"]) | set(draft["source_rows"]))
    items = sorted(set(fact["source_items"]) | set(draft["source_items"]))
    if rows == sorted(fact["source_rows"]) and items == sorted(fact["source_items"]):
        return fact  # nothing new: the same consolidation run again
    return {**fact, "source_rows": rows, "source_items": items, "updated_at": now_iso()}
