"""Support replies as a workflow: the first one, declared like any other (what it takes, its
agents, its job, its policy action). Its assets run per intake batch in the `agents` group."""

from ops_assets.defs.jobs import BATCH_JOB
from ops_assets.orchestration.workflows import REPLIES as ROUTE
from ops_assets.orchestration.workflows import Workflow

REPLIES = Workflow(
    name=ROUTE,
    takes=("support", "billing"),
    agents=("reply_draft", "review"),
    job=BATCH_JOB,
    group="agents",
    policy_actions=("send_reply",),
    per_batch=True,
    budget_usd={"reply_draft": 3.0, "review": 3.0},
)
