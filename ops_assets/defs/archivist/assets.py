"""The memory_facts asset: the archivist reads episodic rows it has not consolidated yet, one
call per contact (and chunk), and turns what they state into facts — deduplicated, with
contradictions held for the owner, each fact linked to the rows it came from."""

from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any, NamedTuple

import dagster as dg

from ops_assets.agents.agent_run import RETRYABLE, batch_metadata, holder_is_gone
from ops_assets.defs.archivist import expectations, prompt
from ops_assets.defs.archivist.consolidate import (
    Consolidation,
    consolidate,
    duplicate_rate,
    fact_id,
)
from ops_assets.defs.archivist.contract import Extraction
from ops_assets.quality import failures as failure_log
from ops_assets.quality.batch_checks import suite_check
from ops_assets.quality.suites import SuiteOutcome, validate
from resources.llm.client import CallRequest, CallResult
from resources.llm.resource import LLMResource
from resources.memory import EPISODIC, FACTS, WRITE_LOCK, Memory, MemoryResource, quote
from resources.scopes import require_scope
from resources.settings import SettingsResource
from resources.store import Store, now_iso
from resources.store.resource import StoreResource

SUITE_CHECK = "memory_facts_suite"
# Answers consolidated together: their facts validated in one suite call, embedded in one
# batch and written in one go. Bounded, so a backlog of a year of mail is not one huge write,
# and a crash repeats at most one group's consolidation (from the ledger, so no call is paid).
GROUP_CALLS = 64
DUPLICATES_CHECK = "facts_are_not_duplicated"
CONTRADICTIONS_CHECK = "no_unreviewed_contradictions"
# What carries facts: their own words, what we replied, and the owner's corrections.
INFORMATIVE = ("item", "correction")


@dg.asset(
    group_name="memory",
    kinds={"lancedb", "openai"},
    deps=["episodic_memory"],
    code_version=prompt.VERSION,
    # A run that finds the memory lock held records no materialization, only its checks.
    output_required=False,
    check_specs=[
        dg.AssetCheckSpec(
            SUITE_CHECK,
            asset="memory_facts",
            description="Every drafted fact "
            "passes the suite (source exists, no secret, no planted instruction)",
        ),
        dg.AssetCheckSpec(
            DUPLICATES_CHECK,
            asset="memory_facts",
            description="Share of active "
            "facts that repeat another is at most memory.max_duplicate_rate",
        ),
        dg.AssetCheckSpec(
            CONTRADICTIONS_CHECK,
            asset="memory_facts",
            description="No fact contradicting a known one waits for the owner (opsbench memory)",
        ),
    ],
)
def memory_facts(
    context: dg.AssetExecutionContext,
    settings: SettingsResource,
    store: StoreResource,
    llm: LLMResource,
    memory: MemoryResource,
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    """Consolidated facts per contact and company, from new episodic rows (the archivist)."""
    st, config, run_id = store.get(), settings.config(), context.run.run_id
    require_scope(st, "archivist", "memory:write", settings.policy().scopes)
    mem = memory.get(st)

    client = llm.client(st, run_id=run_id, asset="archivist")
    shared = frozenset(d.lower() for d in settings.policy().known_domains)
    # One memory writer at a time (episodic_memory, the archivist, an erase), waited for a
    # while (an outcomes run remembering its batch); renewed while a long backlog is read. A
    # run still refused reads nothing; its checks still report the facts as they stand.
    lock = st.holding_lock(
        WRITE_LOCK, run_id, holder_is_gone(context), wait_s=config.memory.lock_wait_s
    )
    with lock as held:
        if not held:
            context.log.info("another run (or an erase) is writing memory; this one leaves it")
            idle = SuiteOutcome(expectations.SUITE, 0)
            skipped = {"skipped": "memory lock held"}
            refused = _result(
                mem, config, [], [], Consolidation(), idle, Counter(), client, skipped
            )
            yield from refused.check_results or []
            return
        chunks = _chunks(mem, st, config.memory.archivist_max_rows)
        requests = [
            CallRequest(
                "archivist",
                rows[0]["item_id"],  # erasing the contact erases this call with their items
                prompt.messages(contact, rows[0]["company"], rows, config),
                Extraction,
                prompt.VERSION,
            )
            for contact, rows in chunks
        ]
        results = client.run(requests)
        outcome, suite = Consolidation(), SuiteOutcome(expectations.SUITE, 0)
        failures: Counter[str] = Counter()
        # No answer: the rows wait for the next run.
        answered = [
            Chunk(contact, rows, request, result)
            for (contact, rows), request, result in zip(chunks, requests, results, strict=True)
            if result.error_code not in RETRYABLE
        ]
        for start in range(0, len(answered), GROUP_CALLS):
            group = answered[start : start + GROUP_CALLS]
            _consolidate_group(st, mem, group, outcome, suite, failures, run_id, shared, config)
        maintenance = mem.maintain(keep_days=config.memory.keep_versions_days)
    yield _result(mem, config, results, chunks, outcome, suite, failures, client, maintenance)


class Chunk(NamedTuple):
    """One call's rows (one contact's, oldest first) with its request and answer."""

    contact: str
    rows: list[dict[str, Any]]
    request: CallRequest
    result: CallResult


def _consolidate_group(
    st: Store,
    mem: Memory,
    group: list[Chunk],
    outcome: Consolidation,
    suite: SuiteOutcome,
    failures: Counter[str],
    run_id: str,
    shared: frozenset[str],
    config: Any,
) -> None:
    """Consolidate some answered chunks: their facts checked in one suite call and embedded
    in one batch, the facts they change written in one go, then their rows marked read."""
    drafted = _drafts(st, mem, group, suite, failures, run_id, shared)
    changed: dict[str, dict[str, Any]] = {}
    for chunk, drafts in zip(group, drafted, strict=True):
        known = mem.rows(
            FACTS, _live_facts_of(chunk.contact, chunk.rows[0]["company"]), vectors=True
        )
        before = dict(outcome.rows)
        consolidate(drafts, known, similarity=config.memory.duplicate_similarity, outcome=outcome)
        for fact, row in outcome.rows.items():
            if before.get(fact) is not row:
                changed[fact] = row
                if row["status"] == "contested" and fact not in before:
                    st.audit(
                        None,
                        "archivist",
                        "fact_contested",
                        {"fact": fact, "contradicts": row["contradicts"]},
                    )
    mem.write(FACTS, list(changed.values()))
    # Marked after the facts are written: a crash in between consolidates them again, which
    # changes nothing (same requests from the ledger, same fact ids).
    st.mark_archived(
        {
            "row_id": r["row_id"],
            "contact": chunk.contact,
            "run_id": run_id,
            "facts": sum(1 for d in drafts if r["row_id"] in d["source_rows"]),
            "at": now_iso(),
        }
        for chunk, drafts in zip(group, drafted, strict=True)
        for r in chunk.rows
    )


def _chunks(mem: Memory, st: Store, size: int) -> list[tuple[str, list[dict[str, Any]]]]:
    """New rows worth reading, per contact, oldest first, at most `size` per call. The rest
    are marked read at once: outcomes other than a reply state no facts, and mail the rules
    flagged as risky (bank details, "send it elsewhere", ...) must not become one."""
    done = st.archived_row_ids()
    fresh = [r for r in mem.rows(EPISODIC) if r["row_id"] not in done and r["contact"]]
    flagged = {i for i in {r["item_id"] for r in fresh} if (st.get_item(i) or {}).get("flags")}
    quiet = [r for r in fresh if not _informative(r) or r["item_id"] in flagged]
    st.mark_archived(
        {
            "row_id": r["row_id"],
            "contact": r["contact"],
            "run_id": None,
            "facts": 0,
            "at": now_iso(),
        }
        for r in quiet
    )
    by_contact: dict[str, list[dict[str, Any]]] = defaultdict(list)
    readable = (r for r in fresh if _informative(r) and r["item_id"] not in flagged)
    for row in sorted(readable, key=lambda r: r["created_at"]):
        by_contact[row["contact"]].append(row)
    return [
        (contact, rows[start : start + size])
        for contact, rows in sorted(by_contact.items())
        for start in range(0, len(rows), size)
    ]


def _informative(row: dict[str, Any]) -> bool:
    if row["state"] == "no_action":
        return False  # spam, bulk mail, auto-replies: nothing worth remembering as fact
    return row["kind"] in INFORMATIVE or (row["kind"] == "outcome" and row["state"] == "delivered")


def _live_facts_of(contact: str, company: str) -> str:
    about = f"contact = {quote(contact)}"
    if company:
        about += f" OR (scope = 'company' AND company = {quote(company)})"
    return f"status IN ('active', 'contested') AND ({about})"


def _drafts(
    st: Store,
    mem: Memory,
    group: list[Chunk],
    suite: SuiteOutcome,
    failures: Counter[str],
    run_id: str,
    shared: frozenset[str],
) -> list[list[dict[str, Any]]]:
    """Per chunk, the answer's facts that pass the suite, as fact rows with vectors and
    provenance; an unusable answer or fact joins the failures dataset. A fact is company-wide
    only where the operator says companies share knowledge (`known_domains`), whatever the
    model said. The whole group's facts are validated in one call and embedded in one batch."""
    answers: list[tuple[Chunk, list[str], list[dict[str, Any]]]] = []
    for chunk in group:
        if not isinstance(chunk.result.output, Extraction):
            failures[chunk.result.error_code or "schema_invalid"] += 1
            _failure(st, chunk, failure_log.SCHEMA_ERROR, chunk.result.error_code, None)
            answers.append((chunk, [], []))
            continue
        facts = [f.model_dump() for f in chunk.result.output.facts]
        ids = [f"{chunk.rows[0]['row_id']}#{n}" for n in range(len(facts))]
        answers.append((chunk, ids, facts))
    checked = validate(
        expectations.SUITE,
        [
            expectations.row(i, f, len(chunk.rows))
            for chunk, ids, facts in answers
            for i, f in zip(ids, facts, strict=True)
        ],
        expectations.rules(),
    )
    suite.rows += checked.rows
    for key, reasons in checked.failing.items():
        suite.failing[key] = reasons
        for reason in reasons:
            suite.unexpected[reason] = suite.unexpected.get(reason, 0) + 1
    drafted = []
    for chunk, ids, facts in answers:
        drafts = []
        for key, fact in zip(ids, facts, strict=True):
            broken = checked.first_reason(key)
            if broken:
                failures[broken] += 1
                _failure(st, chunk, failure_log.CHECK_FAILURE, broken, fact)
                continue
            drafts.append(_draft(chunk, fact, run_id, shared))
        drafted.append(drafts)
    every = [d for drafts in drafted for d in drafts]
    if every:
        vectors = mem.embedder.embed([d["text"] for d in every])
        for draft, vector in zip(every, vectors, strict=True):
            draft["vector"] = vector
    return drafted


def _draft(
    chunk: Chunk, fact: dict[str, Any], run_id: str, shared: frozenset[str]
) -> dict[str, Any]:
    source = chunk.rows[fact["source"] - 1]
    company = source["company"]
    scope = "company" if fact["about"] == "company" and company in shared else "contact"
    now = now_iso()
    draft = {
        "contact": source["contact"],
        "company": source["company"],
        "scope": scope,
        "project": " ".join(fact["project"].split()),
        "kind": fact["kind"],
        "topic": fact["topic"],
        "text": " ".join(fact["statement"].split()),
        "source_rows": [source["row_id"]],
        "source_items": [source["item_id"]],
        "run_id": run_id,
        "asset": "memory_facts",
        "prompt_version": chunk.request.prompt_version,
        "model": chunk.result.model,
        "created_at": now,
        "updated_at": now,
    }
    draft["fact_id"] = fact_id(draft)
    return draft


def _failure(
    st: Store,
    chunk: Chunk,
    kind: str,
    reason: str | None,
    output: dict[str, Any] | None,
) -> None:
    st.record_failure(
        item_id=chunk.rows[0]["item_id"],
        agent="archivist",
        kind=kind,
        reason=reason or "schema_invalid",
        prompt_version=chunk.request.prompt_version,
        model=chunk.result.model,
        run_id=None,
        input=chunk.request.messages,
        output=output,
    )


def _result(
    mem: Memory,
    config: Any,
    results: list[CallResult],
    chunks: list[tuple[str, list[dict[str, Any]]]],
    outcome: Consolidation,
    suite: SuiteOutcome,
    failures: Counter[str],
    client: Any,
    maintenance: dict[str, Any],
) -> dg.MaterializeResult:
    facts = mem.rows(FACTS)
    active, repeats = duplicate_rate(facts)
    rate = repeats / active if active else 0.0
    contested = sorted(f["fact_id"] for f in facts if f["status"] == "contested")
    metadata = batch_metadata(
        results,
        rows=sum(len(rows) for _, rows in chunks),
        prompt_version=prompt.VERSION,
        model=client.endpoint.model,
        failures=failures,
        item_ids=sorted({r["item_id"] for _, rows in chunks for r in rows}),
    )
    metadata.update(
        {
            "contacts": len({c for c, _ in chunks}),
            "facts_new": len(outcome.new),
            "facts_merged": len(outcome.merged),
            "facts_contested": len(outcome.contested),
            "fact_ids": dg.MetadataValue.json(sorted(outcome.new + outcome.contested)),
            "facts_total": len(facts),
            "tables": dg.MetadataValue.json(maintenance),
        }
    )
    checks = [
        suite_check(SUITE_CHECK, suite),
        dg.AssetCheckResult(
            check_name=DUPLICATES_CHECK,
            passed=rate <= config.memory.max_duplicate_rate,
            metadata={
                "active_facts": active,
                "duplicates": repeats,
                "duplicate_rate": dg.MetadataValue.float(round(rate, 4)),
                "max_duplicate_rate": dg.MetadataValue.float(config.memory.max_duplicate_rate),
            },
        ),
        dg.AssetCheckResult(
            check_name=CONTRADICTIONS_CHECK,
            passed=not contested,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"contested": len(contested), "fact_ids": dg.MetadataValue.json(contested)},
        ),
    ]
    return dg.MaterializeResult(metadata=metadata, check_results=checks)
