"""Context injection: the memory an agent's prompt may carry for one item.

Bounded and relevance-ranked, never a dump of history: hybrid search over the sender's own
memory (and facts about their company), the top `memory.top_k` rows that fit the agent's token
budget, facts first. Chosen once, as of the item's first processing — its own rows and
anything newer are left out — and recorded (ids and table versions) so every re-run and
backfill sees exactly the same context and its model calls come from the ledger.
Who may be seen is decided by code from the sender's address, never by model output.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from ops_assets.governance.scopes import ScopeRefused, require_scope
from ops_assets.prompting import CLOSE, NOTHING_ON_RECORD, OPEN
from resources.memory import EPISODIC, FACTS, EmbeddingError, Memory, quote
from resources.store import Store, now_iso

# Mail providers whose domain says nothing about a company: no company-wide facts there.
FREEMAIL = frozenset(
    [
        "gmail.com",
        "googlemail.com",
        "outlook.com",
        "hotmail.com",
        "live.com",
        "msn.com",
        "yahoo.com",
        "ymail.com",
        "icloud.com",
        "me.com",
        "mac.com",
        "aol.com",
        "proton.me",
        "protonmail.com",
        "gmx.com",
        "gmx.net",
        "gmx.de",
        "web.de",
        "mail.com",
        "zoho.com",
        "fastmail.com",
        "yandex.com",
        "yandex.ru",
        "hey.com",
    ]
)
MAX_ROW_CHARS = 400
"""One remembered row never takes more than this much of a prompt."""
OPEN_MEMORY, CLOSE_MEMORY = "<<<MEMORY", "MEMORY>>>"


def company_of(address: str) -> str:
    domain = address.rsplit("@", 1)[-1].lower() if "@" in address else ""
    return "" if domain in FREEMAIL else domain


def estimate_tokens(text: str) -> int:
    """A budget bound, not a count: English runs about 4 UTF-8 bytes a token; 3 keeps the
    estimate above what BPE tokenizers report."""
    return math.ceil(len(text.encode("utf-8")) / 3)


@dataclass
class Context:
    agent: str
    budget: int
    rows: list[dict[str, Any]] = field(default_factory=list)
    """Each with `ref` ("episodic:<row_id>" or "facts:<fact_id>") and its `line`."""

    @property
    def refs(self) -> list[str]:
        return [r["ref"] for r in self.rows]

    @property
    def tokens(self) -> int:
        return sum(estimate_tokens(r["line"]) for r in self.rows)

    def lines(self) -> list[str]:
        return [r["line"] for r in self.rows]

    def render(self) -> str:
        """For a prompt: delimited like mail, since remembered text once came from mail."""
        if not self.rows:
            return NOTHING_ON_RECORD
        body = "\n".join(self.lines()).replace(OPEN, "[marker]").replace(CLOSE, "[marker]")
        body = body.replace(OPEN_MEMORY, "[marker]").replace(CLOSE_MEMORY, "[marker]")
        return f"{OPEN_MEMORY}\n{body}\n{CLOSE_MEMORY}"


def line_for(table: str, row: dict[str, Any]) -> str:
    text = " ".join(str(row.get("text") or "").split())
    if len(text) > MAX_ROW_CHARS:
        text = text[: MAX_ROW_CHARS - 3] + "..."
    if table == FACTS:
        return f"- fact ({row['kind']}, {row['topic']}): {text}"
    return f"- {str(row.get('created_at') or '')[:10]} {row['kind']}: {text}"


def context_for(
    st: Store,
    memory: Memory,
    item: dict[str, Any],
    agent: str,
    *,
    budget: int,
    top_k: int,
    run_id: str | None,
    policy_scopes: dict[str, list[str]] | None = None,
) -> Context:
    """The item's context for this agent: the recorded one, or chosen now and recorded."""
    stored = st.memory_context(item["id"], agent)
    if stored is not None:
        return _reload(memory, stored, agent)
    try:
        require_scope(st, agent, "memory:read", policy_scopes)
    except ScopeRefused:
        return Context(agent, 0)  # refused and audited; nothing recorded, so nothing reused
    context = Context(agent, budget)
    cutoff = now_iso()
    versions = {name: memory.version(name) for name in (EPISODIC, FACTS)}
    embedder = memory.embedding(EPISODIC).get("embedding_model")
    # An item drafted before memory existed was drafted without it: keep it that way, so a
    # re-run reuses its answer instead of writing a new one.
    if budget > 0 and st.get_output(item["id"], agent) is None:
        try:
            context.rows = _choose(memory, item, cutoff, budget, top_k)
        except EmbeddingError as exc:
            # Work goes on without memory, visibly: recorded so re-runs stay as they were.
            embedder = "unavailable"
            st.audit(item["id"], agent, "memory_unavailable", {"error": str(exc)[:200]})
    record = st.save_memory_context(
        {
            "item_id": item["id"],
            "agent": agent,
            "row_ids": context.refs,
            "versions": versions,
            "tokens": context.tokens,
            "budget": budget,
            "embedder": embedder,
            "cutoff": cutoff,
            "run_id": run_id,
            "at": now_iso(),
        }
    )
    return context if record["row_ids"] == context.refs else _reload(memory, record, agent)


def _filters(item: dict[str, Any], cutoff: str) -> dict[str, str]:
    contact = quote((item.get("sender") or "").lower())
    company = company_of((item.get("sender") or "").lower())
    own, before = quote(item["id"]), f"created_at < {quote(cutoff)}"
    about = f"contact = {contact}"
    if company:
        about = f"({about} OR (scope = 'company' AND company = {quote(company)}))"
    return {
        FACTS: f"status = 'active' AND {about} AND NOT array_has_any(source_items, [{own}]) "
        f"AND {before}",
        EPISODIC: f"contact = {contact} AND item_id != {own} AND {before}",
    }


def _choose(
    memory: Memory, item: dict[str, Any], cutoff: str, budget: int, top_k: int
) -> list[dict[str, Any]]:
    if not item.get("sender"):
        return []
    filters = _filters(item, cutoff)
    if not any(memory.count(name, where) for name, where in filters.items()):
        return []  # a first contact: no model to load, nothing to search
    query = f"{item.get('subject') or ''}\n{(item.get('body') or '')[:1000]}"
    chosen: list[dict[str, Any]] = []
    used = 0
    for name in (FACTS, EPISODIC):
        for row in memory.search(name, query, where=filters[name], limit=top_k):
            line = line_for(name, row)
            cost = estimate_tokens(line)
            if len(chosen) >= top_k or used + cost > budget:
                continue  # a shorter, lower-ranked row may still fit
            key = "fact_id" if name == FACTS else "row_id"
            chosen.append({"ref": f"{name}:{row[key]}", "line": line})
            used += cost
    return chosen


def _reload(memory: Memory, record: dict[str, Any], agent: str) -> Context:
    """The recorded rows, read at the table versions of their choosing (rows an erase removed
    since are gone for good, and the context shrinks with them)."""
    wanted: dict[str, list[str]] = {EPISODIC: [], FACTS: []}
    for ref in record["row_ids"]:
        name, _, key = ref.partition(":")
        wanted.setdefault(name, []).append(key)
    found: dict[str, str] = {}
    for name, keys in wanted.items():
        version = (record.get("versions") or {}).get(name)
        for row in memory.by_ids(name, keys, version):
            key = row["fact_id"] if name == FACTS else row["row_id"]
            found[f"{name}:{key}"] = line_for(name, row)
    rows = [{"ref": ref, "line": found[ref]} for ref in record["row_ids"] if ref in found]
    return Context(agent, int(record["budget"]), rows)


def recorded_context(st: Store, memory: Memory, item_id: str, agent: str) -> Context | None:
    """What the item's prompts for this agent carried, if it was ever chosen."""
    stored = st.memory_context(item_id, agent)
    return None if stored is None else _reload(memory, stored, agent)


def contexts_for(
    st: Store,
    memory: Memory,
    items: list[dict[str, Any]],
    agent: str,
    settings: Any,
    run: Any,
) -> dict[str, Context]:
    """Each item's context for an agent asset, with the budget and scopes from its settings."""
    config = settings.config().memory
    scopes = settings.policy().scopes
    return {
        i["id"]: context_for(
            st,
            memory,
            i,
            agent,
            budget=config.budgets.get(agent, 0),
            top_k=config.top_k,
            run_id=run.run.run_id,
            policy_scopes=scopes,
        )
        for i in items
    }


def memory_metadata(contexts: dict[str, Context]) -> dict[str, Any]:
    """For the asset's materialization: which memory rows each item's prompt carried (ids,
    never text) and the tokens they took."""
    import dagster as dg

    used = {item: c.refs for item, c in contexts.items() if c.rows}
    return {
        "memory_rows": sum(len(refs) for refs in used.values()),
        "memory_tokens": sum(c.tokens for c in contexts.values()),
        "memory_row_ids": dg.MetadataValue.json(used),
    }
