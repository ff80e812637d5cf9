"""The failures dataset: what went wrong, where, with what the agent saw and said.

Kinds: `schema_error` (the model's answer broke the output contract), `check_failure` (a
suite rule), `reviewer_rejection` (the reviewer asked for a revision or a human) and
`human_correction` (the owner edited or rejected a draft). `opsbench prompts test` replays it.
"""

from typing import Any

from resources.store import Store

SCHEMA_ERROR = "schema_error"
CHECK_FAILURE = "check_failure"
REVIEWER_REJECTION = "reviewer_rejection"
HUMAN_CORRECTION = "human_correction"
KINDS = (SCHEMA_ERROR, CHECK_FAILURE, REVIEWER_REJECTION, HUMAN_CORRECTION)


def record_row_failure(
    store: Store,
    row: dict[str, Any],
    *,
    kind: str,
    reason: str,
    messages: list[dict[str, str]] | None,
) -> None:
    """One failure of an agent's output row (its provenance comes along)."""
    store.record_failure(
        item_id=row["item_id"],
        agent=row["asset"],
        kind=kind,
        reason=reason,
        prompt_version=row["prompt_version"],
        model=row["model"],
        run_id=row["run_id"],
        input=messages,
        output=row["output"],
    )
