"""Context injection: the memory an agent's prompt may carry for one item.

Bounded and relevance-ranked, never a dump of history: hybrid search over the sender's own
memory (and facts about their company), the top `memory.top_k` rows that fit the agent's token
budget, facts first. Chosen once, as of the item's first processing — its own rows and
anything newer are left out — and recorded (ids and table versions) so every re-run and
backfill sees exactly the same context and its model calls come from the ledger.
Who may be seen is decided by code, never by model output: the sender's own memory, and
company-wide facts only for domains the operator lists as known (`known_domains`). A reply
that would go to another address than the sender's (a Reply-To) carries no memory, and
items flagged as risky (bank details, "send it elsewhere", ...) are never recalled.
"""

import math
from dataclasses import dataclass, field
from typing import Any

from ops_assets.agents.prompting import CLOSE, NOTHING_ON_RECORD, OPEN
from ops_assets.defs.reply_draft.compose import reply_recipient
from ops_assets.governance.addresses import company_of
from resources.memory import EPISODIC, FACTS, EmbeddingError, Memory, quote
from resources.scopes import ScopeRefused, require_scope
from resources.store import Store, now_iso

MAX_ROW_CHARS = 400
"""One remembered row never takes more than this much of a prompt."""
OPEN_MEMORY, CLOSE_MEMORY = "<<<MEMORY", "MEMORY>>>"


def estimate_tokens(text: str) -> int:
    """A budget estimate, not a tokenizer: ASCII text runs about 4 characters a token in BPE
    vocabularies (counted as 3, to stay above); every byte of anything else counts as a
    token, the worst case of a byte-level tokenizer (emoji, rare scripts)."""
    data = text.encode("utf-8")
    ascii_bytes = sum(1 for b in data if b < 128)
    return math.ceil(ascii_bytes / 3) + (len(data) - ascii_bytes)


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
        project = f", {row['project']}" if row.get("project") else ""
        return f"- fact ({row['kind']}, {row['topic']}{project}): {text}"
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
    company_domains: frozenset[str] = frozenset(),
) -> Context:
    """The item's context for this agent: the recorded one, or chosen now and recorded.
    `company_domains`: where facts about the whole company may be shared among colleagues."""
    recorded = recorded_context(st, memory, item["id"], agent)
    if recorded is not None:
        return recorded
    try:
        require_scope(st, agent, "memory:read", policy_scopes)
    except ScopeRefused:
        return Context(agent, 0)  # refused and audited; nothing recorded, so nothing reused
    context = Context(agent, budget)
    cutoff = now_iso()
    versions = {name: memory.version(name) for name in (EPISODIC, FACTS)}
    embedder = memory.embedding(EPISODIC).get("embedding_model")
    sender = (item.get("sender") or "").lower()
    if budget > 0 and sender and reply_recipient(item).lower() != sender:
        # Memory is about the sender: a reply addressed elsewhere must not carry it.
        embedder = "withheld"
        st.audit(item["id"], agent, "memory_withheld", {"reason": "reply_to_other_address"})
    # An item drafted before memory existed was drafted without it: keep it that way, so a
    # re-run reuses its answer instead of writing a new one.
    elif budget > 0 and st.get_output(item["id"], agent) is None:
        try:
            context.rows = _choose(st, memory, item, cutoff, budget, top_k, company_domains)
        except Exception as exc:  # memory is an aid: its failure never stops the line
            # Drafted without memory, visibly, and recorded so re-runs stay as they were.
            # The error's kind only: messages can carry endpoint URLs with credentials.
            embedder = "unavailable"
            kind = "embedder_unavailable" if isinstance(exc, EmbeddingError) else "memory_error"
            st.audit(item["id"], agent, "memory_unavailable", {"reason": kind})
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


def _filters(item: dict[str, Any], cutoff: str, company_domains: frozenset[str]) -> dict[str, str]:
    contact = quote((item.get("sender") or "").lower())
    company = company_of((item.get("sender") or "").lower())
    own, before = quote(item["id"]), f"created_at < {quote(cutoff)}"
    about = f"contact = {contact}"
    if company and company in company_domains:
        about = f"({about} OR (scope = 'company' AND company = {quote(company)}))"
    return {
        FACTS: f"status = 'active' AND {about} AND NOT array_has_any(source_items, [{own}]) "
        f"AND {before}",
        EPISODIC: f"contact = {contact} AND item_id != {own} AND {before}",
    }


def _choose(
    st: Store,
    memory: Memory,
    item: dict[str, Any],
    cutoff: str,
    budget: int,
    top_k: int,
    company_domains: frozenset[str],
) -> list[dict[str, Any]]:
    if not item.get("sender"):
        return []
    filters = _filters(item, cutoff, company_domains)
    if not any(memory.count(name, where) for name, where in filters.items()):
        return []  # a first contact: no model to load, nothing to search
    query = f"{item.get('subject') or ''}\n{(item.get('body') or '')[:1000]}"
    chosen: list[dict[str, Any]] = []
    used = 0
    for name in (FACTS, EPISODIC):
        for row in memory.search(name, query, where=filters[name], limit=top_k):
            if _from_flagged_mail(st, row):
                continue
            line = line_for(name, row)
            cost = estimate_tokens(line)
            if len(chosen) >= top_k or used + cost > budget:
                continue  # a shorter, lower-ranked row may still fit
            key = "fact_id" if name == FACTS else "row_id"
            chosen.append({"ref": f"{name}:{row[key]}", "line": line})
            used += cost
    return chosen


def _from_flagged_mail(st: Store, row: dict[str, Any]) -> bool:
    """Rows drawn from mail the rules flagged as risky are never recalled: a hostile mail
    must not reach later prompts through memory."""
    items = row.get("source_items") or [row.get("item_id")]
    for item_id in items:
        item = st.get_item(item_id) if item_id else None
        if item is not None and item.get("flags"):
            return True
    return False


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
    """What the item's prompts for this agent carried, if it was ever chosen. Memory files
    broken since mean going on without them, visibly (audited), never a failed run."""
    stored = st.memory_context(item_id, agent)
    if stored is None:
        return None
    try:
        return _reload(memory, stored, agent)
    except Exception:
        st.audit(item_id, agent, "memory_unavailable", {"reason": "memory_error"})
        return Context(agent, int(stored["budget"]))


def contexts_for(
    st: Store,
    memory: Memory,
    items: list[dict[str, Any]],
    agent: str,
    settings: Any,
    run: Any,
) -> dict[str, Context]:
    """Each item's context for an agent asset, with the budget and scopes from its settings."""
    config, policy = settings.config().memory, settings.policy()
    shared = frozenset(d.lower() for d in policy.known_domains)
    return {
        i["id"]: context_for(
            st,
            memory,
            i,
            agent,
            budget=config.budgets.get(agent, 0),
            top_k=config.top_k,
            run_id=run.run.run_id,
            policy_scopes=policy.scopes,
            company_domains=shared,
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


# ---------------------------------------------------------------- few-shot from the owner
EXAMPLES_K = 3
"""Past items a prompt may carry as examples, at most."""
EXAMPLES_BUDGET = 300
"""Their token budget unless the config names one (`memory.budgets.<agent>_examples`)."""
MAX_EXAMPLE_LABELS = 500
"""The newest labels searched (their texts are embedded for each search)."""


def example_budget(budgets: dict[str, int], agent: str) -> int:
    return int(budgets.get(f"{agent}_examples", EXAMPLES_BUDGET))


def examples_for(
    st: Store,
    memory: Memory,
    item: dict[str, Any],
    agent: str,
    *,
    budget: int,
    k: int = EXAMPLES_K,
    run_id: str | None,
    known: dict[str, Any] | None = None,
) -> Context:
    """The k past items most like this one that the owner confirmed (their category, and the
    reply they approved or wrote), within `budget` tokens: chosen by code (cosine similarity
    of the memory embeddings), once, and recorded like memory context (agent
    "<agent>:examples", refs "label:<item_id>"), so re-runs carry exactly the same. `known`:
    the labels by item id, when the caller read them once for a batch."""
    name = f"{agent}:examples"
    found = known if known is not None else labels_by_item(st)
    stored = st.memory_context(item["id"], name)
    if stored is not None:
        rows = [
            {"ref": ref, "line": example_line(found[ref.partition(":")[2]], agent)}
            for ref in stored["row_ids"]
            if ref.partition(":")[2] in found  # erased since: gone from the prompt too
        ]
        return Context(name, int(stored["budget"]), rows)
    context = Context(name, budget)
    candidates = [
        label
        for label in list(found.values())[-MAX_EXAMPLE_LABELS:]
        if label["item_id"] != item["id"]
        and label["category"]
        and (agent == "triage" or label["reply"])
        and not _flagged(st, label["item_id"])
    ]
    if not candidates:
        return context  # nothing to learn from yet: nothing to record either
    embedder = "none"
    # An item first processed without examples keeps it that way: a re-run or a backfill
    # reuses its answer instead of paying for a new one.
    first_time = st.get_output(item["id"], agent.partition(":")[0]) is None
    if budget > 0 and first_time and not item.get("flags"):
        try:
            context.rows = _nearest(memory, item, candidates, agent, budget, k)
            embedder = memory.embedder.name
        except Exception:  # examples are an aid: their failure never stops the line
            embedder = "unavailable"
            st.audit(item["id"], agent, "examples_unavailable", {"reason": "embedder_error"})
    st.save_memory_context(
        {
            "item_id": item["id"],
            "agent": name,
            "row_ids": context.refs,
            "versions": {},
            "tokens": context.tokens,
            "budget": budget,
            "embedder": embedder,
            "cutoff": now_iso(),
            "run_id": run_id,
            "at": now_iso(),
        }
    )
    return context


def labels_by_item(st: Store) -> dict[str, Any]:
    from resources.store.labels import labels

    return {label["item_id"]: label for label in labels(st)}


def examples_for_batch(
    st: Store,
    memory: Memory,
    items: list[dict[str, Any]],
    agent: str,
    budgets: dict[str, int],
    run_id: str | None,
) -> dict[str, Context]:
    """Each item's examples for an agent asset (one read of the labels for the batch)."""
    known = labels_by_item(st)
    budget = example_budget(budgets, agent)
    return {
        i["id"]: examples_for(st, memory, i, agent, budget=budget, run_id=run_id, known=known)
        for i in items
    }  # fmt: skip


def example_line(label: Any, agent: str) -> str:
    subject = " ".join(str(label["subject"]).split())[:120]
    body = " ".join(str(label["body"]).split())[:MAX_ROW_CHARS]
    line = f"- {label['category']} (the owner's word): {subject}: {body}"
    if agent != "triage" and label["reply"]:
        reply = " ".join(str(label["reply"]).split())[:MAX_ROW_CHARS]
        line += f"\n  approved reply: {reply}"
    return line


def _nearest(
    memory: Memory,
    item: dict[str, Any],
    candidates: list[Any],
    agent: str,
    budget: int,
    k: int,
) -> list[dict[str, Any]]:
    def text(subject: Any, body: Any) -> str:
        return f"{subject or ''}\n{str(body or '')[:1000]}"

    vectors = memory.embedder.embed(
        [text(item.get("subject"), item.get("body"))]
        + [text(c["subject"], c["body"]) for c in candidates]
    )
    query = vectors[0]
    scored = sorted(
        zip(candidates, vectors[1:], strict=True),
        key=lambda pair: -sum(a * b for a, b in zip(query, pair[1], strict=True)),
    )
    chosen: list[dict[str, Any]] = []
    used = 0
    for label, _ in scored:
        line = example_line(label, agent)
        cost = estimate_tokens(line)
        if len(chosen) >= k:
            break
        if used + cost > budget:
            continue  # a shorter, less similar one may still fit
        chosen.append({"ref": f"label:{label['item_id']}", "line": line})
        used += cost
    return chosen


def _flagged(st: Store, item_id: str) -> bool:
    found = st.get_item(item_id)
    return bool(found and found.get("flags"))
