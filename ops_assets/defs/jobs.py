"""The two jobs: one per intake batch, one that drains outcomes (delivery, then memory)."""

import dagster as dg

BATCH_JOB = "process_batch"
OUTCOMES_JOB = "deliver_and_remember"

process_batch = dg.define_asset_job(
    BATCH_JOB,
    selection=dg.AssetSelection.assets("triage", "reply_draft", "review"),
    description="Triage, draft and review every item of one intake batch (partitioned like its "
    "assets).",
)

deliver_and_remember = dg.define_asset_job(
    OUTCOMES_JOB,
    selection=dg.AssetSelection.assets("delivery", "episodic_memory", "cost_per_outcome", "crm"),
    description="Deliver every approved item, record every new outcome in memory, keep the CRM, "
    "and roll the call ledger up into cost per outcome.",
)

ARCHIVIST_JOB = "consolidate_memory"

consolidate_memory = dg.define_asset_job(
    ARCHIVIST_JOB,
    selection=dg.AssetSelection.assets("memory_facts"),
    description="The archivist: consolidate new episodic memory into facts per contact and "
    "company, and keep the memory tables' indexes.",
)
