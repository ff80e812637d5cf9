"""The proposals workflow's job: its group, so a new agent in the folder joins it unlisted."""

import dagster as dg

from ops_assets.defs.proposals.workflow import GROUP, JOB

run_proposals = dg.define_asset_job(
    JOB,
    selection=dg.AssetSelection.groups(GROUP),
    description="Sales leads to proposals: brief, plan, draft, verify (with bounded "
    "revisions), the send_proposal gate, and the approved ones sent with their PDF.",
)
