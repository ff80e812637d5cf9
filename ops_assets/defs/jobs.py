"""The jobs select assets by group, so an agent added to a group joins its job without an
edit here: `agents` run per intake batch, `outcomes` drain what the gate let through
(delivery, then memory, CRM and costs), `memory` is the archivist's consolidation,
`follow_ups` registers the day's follow-up batch, `triage_learning` retrains the triage
classifier."""

import dagster as dg

BATCH_JOB = "process_batch"
OUTCOMES_JOB = "deliver_and_remember"

process_batch = dg.define_asset_job(
    BATCH_JOB,
    selection=dg.AssetSelection.groups("agents"),
    description="Triage, draft and review every item of one intake batch (partitioned like its "
    "assets).",
)

deliver_and_remember = dg.define_asset_job(
    OUTCOMES_JOB,
    selection=dg.AssetSelection.groups("outcomes"),
    description="Deliver every approved item, record every new outcome in memory, keep the CRM, "
    "and roll the call ledger up into cost per outcome.",
)

ARCHIVIST_JOB = "consolidate_memory"

consolidate_memory = dg.define_asset_job(
    ARCHIVIST_JOB,
    selection=dg.AssetSelection.groups("memory"),
    description="The archivist: consolidate new episodic memory into facts per contact and "
    "company, and keep the memory tables' indexes.",
)

FOLLOW_UPS_JOB = "register_follow_ups"

register_follow_ups = dg.define_asset_job(
    FOLLOW_UPS_JOB,
    selection=dg.AssetSelection.groups("follow_ups"),
    description="Turn replies that got no answer into a batch of follow-up work items.",
)

RETRAIN_JOB = "retrain_triage_classifier"

retrain_triage_classifier = dg.define_asset_job(
    RETRAIN_JOB,
    selection=dg.AssetSelection.groups("triage_learning"),
    description="Retrain the triage classifier on the seed set and the owner's labels (the "
    "retrain sensor asks for it when enough new labels arrived).",
)
