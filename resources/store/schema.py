"""Tables of the canonical store (SQLAlchemy Core). Changes go through an Alembic migration."""

import sqlalchemy as sa

metadata = sa.MetaData()

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("trigger", sa.String, nullable=False),
    sa.Column("item_count", sa.Integer, nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.String, nullable=False),
)

work_items = sa.Table(
    "work_items",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("source", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("batch", sa.String, index=True),
    sa.Column("sender", sa.String),
    sa.Column("sender_name", sa.String),
    sa.Column("recipients", sa.JSON),
    sa.Column("reply_to", sa.String),
    sa.Column("subject", sa.String),
    sa.Column("body", sa.Text),
    sa.Column("message_id", sa.String, index=True),
    sa.Column("in_reply_to", sa.String),
    sa.Column("references", sa.JSON),
    sa.Column("received_at", sa.String),
    sa.Column("headers", sa.JSON),
    sa.Column("has_attachments", sa.Boolean),
    sa.Column("content_hash", sa.String, index=True),
    sa.Column("original_path", sa.String),
    sa.Column("state", sa.String, nullable=False, index=True),
    sa.Column("reason_code", sa.String),
    sa.Column("reason", sa.String),
    sa.Column("duplicate_of", sa.String),
    sa.Column("category", sa.String),
    sa.Column("urgency", sa.String),
    sa.Column("route", sa.String),
    sa.Column("remembered_state", sa.String),
    sa.Column("flags", sa.JSON),
    sa.Column("created_at", sa.String, nullable=False),
    sa.Column("updated_at", sa.String, nullable=False),
)

agent_outputs = sa.Table(
    "agent_outputs",
    metadata,
    sa.Column("item_id", sa.String, primary_key=True),
    sa.Column("asset", sa.String, primary_key=True),
    sa.Column("batch", sa.String),
    sa.Column("run_id", sa.String),
    sa.Column("prompt_version", sa.String),
    sa.Column("model", sa.String),
    sa.Column("input_hash", sa.String),
    sa.Column("request_hash", sa.String),
    sa.Column("output", sa.JSON),
    sa.Column("output_hash", sa.String),
    sa.Column("valid", sa.Boolean),
    sa.Column("failure", sa.String),
    sa.Column("tokens_in", sa.Integer),
    sa.Column("tokens_out", sa.Integer),
    sa.Column("cost_usd", sa.Float),
    sa.Column("cached", sa.Boolean),
    # Which memory rows the prompt carried ("episodic:<row_id>", "facts:<fact_id>"): the
    # provenance of what the agent knew (the full record is in memory_context).
    sa.Column("memory_ids", sa.JSON),
    sa.Column("created_at", sa.String, nullable=False),
)

model_calls = sa.Table(
    "model_calls",
    metadata,
    sa.Column("request_hash", sa.String, primary_key=True),
    sa.Column("agent", sa.String, nullable=False),
    sa.Column("model", sa.String, nullable=False),
    sa.Column("prompt_version", sa.String),
    sa.Column("request", sa.JSON, nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("tokens_in", sa.Integer, nullable=False),
    sa.Column("tokens_out", sa.Integer, nullable=False),
    sa.Column("cost_usd", sa.Float, nullable=False),
    sa.Column("item_id", sa.String),
    sa.Column("run_id", sa.String),
    sa.Column("created_at", sa.String, nullable=False),
    sa.Column("latency_ms", sa.Integer),  # wall time of the paid call; None before 0012
)

call_uses = sa.Table(
    "call_uses",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_hash", sa.String, nullable=False, index=True),
    sa.Column("item_id", sa.String, index=True),
    sa.Column("run_id", sa.String),
    sa.Column("asset", sa.String),
    sa.Column("cached", sa.Boolean, nullable=False),
    sa.Column("at", sa.String, nullable=False),
)

budget_reservations = sa.Table(
    "budget_reservations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("day", sa.String, nullable=False, index=True),
    sa.Column("workflow", sa.String),
    sa.Column("request_hash", sa.String, nullable=False),
    sa.Column("reserved_usd", sa.Float, nullable=False),
    sa.Column("actual_usd", sa.Float),
    sa.Column("status", sa.String, nullable=False),
    sa.Column("at", sa.String, nullable=False),
)

# A model call in flight, claimed by one asker so others (other processes too) wait for its
# answer instead of paying for it again. The claim is taken by compare-and-set (insert if
# absent, or update where the observed owner is dead or the claim expired); its owner renews
# `expires_at` while the call runs.
model_call_claims = sa.Table(
    "model_call_claims",
    metadata,
    sa.Column("request_hash", sa.String, primary_key=True),
    sa.Column("owner", sa.String, nullable=False),  # host:pid:thread, unique per asker
    sa.Column("host", sa.String, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),  # epoch seconds
    sa.Column("claimed_at", sa.String, nullable=False),
)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("item_id", sa.String, nullable=False, index=True),
    sa.Column("destination", sa.String, nullable=False),
    sa.Column("purpose", sa.String, nullable=False),
    sa.Column("connector", sa.String, nullable=False),
    sa.Column("content_hash", sa.String, nullable=False),
    sa.Column("state", sa.String, nullable=False),
    sa.Column("receipt", sa.String),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("created_at", sa.String, nullable=False),
    sa.Column("updated_at", sa.String, nullable=False),
    sa.UniqueConstraint("item_id", "destination", "purpose", name="uq_delivery_once"),
)

approvals = sa.Table(
    "approvals",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.String, nullable=False, index=True),
    sa.Column("decision", sa.String, nullable=False),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("policy", sa.String),
    sa.Column("note", sa.String),
    sa.Column("at", sa.String, nullable=False),
)

audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String, nullable=False),
    sa.Column("item_id", sa.String, index=True),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("event", sa.String, nullable=False),
    sa.Column("detail", sa.JSON),
)

controls = sa.Table(
    "controls",
    metadata,
    sa.Column("key", sa.String, primary_key=True),
    sa.Column("value", sa.String, nullable=False),
    sa.Column("actor", sa.String, nullable=False),
    sa.Column("at", sa.String, nullable=False),
)

# Named locks (the drain's, the memory writers'): held by one owner until released or until
# `expires_at` (epoch seconds), after which anyone may take it; a holder seen dead by the
# caller's `is_stale` loses it earlier.
locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.String, primary_key=True),
    sa.Column("owner", sa.String, nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
    sa.Column("acquired_at", sa.String, nullable=False),
)

# The failures dataset: every schema error, check failure, reviewer rejection and human
# correction, with what the agent saw and said. It feeds prompt regression tests.
failures = sa.Table(
    "failures",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.String, nullable=False),
    sa.Column("item_id", sa.String, index=True),
    sa.Column("agent", sa.String, nullable=False),
    sa.Column("kind", sa.String, nullable=False),
    sa.Column("reason", sa.String, nullable=False),
    sa.Column("prompt_version", sa.String),
    sa.Column("model", sa.String),
    sa.Column("run_id", sa.String),
    sa.Column("input", sa.JSON),
    sa.Column("output", sa.JSON),
    # Same item, agent, kind, reason and output: the same failure (a re-run records it once).
    sa.Column("fingerprint", sa.String, nullable=False, unique=True),
)

# The CRM: contacts and deals, kept by the crm executor from triage and delivery outcomes.
contacts = sa.Table(
    "contacts",
    metadata,
    sa.Column("email", sa.String, primary_key=True),
    sa.Column("name", sa.String),
    sa.Column("company", sa.String),
    sa.Column("messages", sa.Integer, nullable=False),
    sa.Column("replies_sent", sa.Integer, nullable=False),
    sa.Column("last_category", sa.String),
    sa.Column("first_seen", sa.String, nullable=False),
    sa.Column("last_seen", sa.String, nullable=False),
    sa.Column("updated_at", sa.String, nullable=False),
)

deals = sa.Table(
    "deals",
    metadata,
    sa.Column("id", sa.String, primary_key=True),
    sa.Column("contact_email", sa.String, nullable=False, index=True),
    sa.Column("source_item_id", sa.String, nullable=False, unique=True),
    sa.Column("title", sa.String),
    sa.Column("amount", sa.String),
    sa.Column("stage", sa.String, nullable=False),
    sa.Column("created_at", sa.String, nullable=False),
    sa.Column("updated_at", sa.String, nullable=False),
)

# Memory rows an agent's prompt carried for an item, chosen at its first processing and reused
# on every re-run (ids and table versions only: the text stays in memory, erasable there).
memory_context = sa.Table(
    "memory_context",
    metadata,
    sa.Column("item_id", sa.String, primary_key=True),
    sa.Column("agent", sa.String, primary_key=True),
    sa.Column("row_ids", sa.JSON, nullable=False),
    sa.Column("versions", sa.JSON, nullable=False),
    sa.Column("tokens", sa.Integer, nullable=False),
    sa.Column("budget", sa.Integer, nullable=False),
    sa.Column("embedder", sa.String),
    sa.Column("cutoff", sa.String, nullable=False),
    sa.Column("run_id", sa.String),
    sa.Column("at", sa.String, nullable=False),
)

# Episodic rows the archivist has consolidated into facts (its cursor; a crash re-reads them,
# and consolidation is idempotent).
memory_archived = sa.Table(
    "memory_archived",
    metadata,
    sa.Column("row_id", sa.String, primary_key=True),
    sa.Column("contact", sa.String),
    sa.Column("run_id", sa.String),
    sa.Column("facts", sa.Integer, nullable=False),
    sa.Column("at", sa.String, nullable=False),
)
