"""What the proposals workflow is, as data: what it takes, its agents, its policy action, its
budget and model profile. The registry (ops_assets/orchestration/workflows.py) finds it; the
config's routing table sends a category here by naming it (`sales: proposals`)."""

from ops_assets.orchestration.workflows import Workflow

GROUP = "proposals"
JOB = "run_proposals"
SEND_PROPOSAL = "send_proposal"
PURPOSE = "proposal"
"""The delivery ledger's purpose: at most one proposal send per (item, destination)."""


PROPOSALS = Workflow(
    name="proposals",
    takes=("sales",),
    agents=(
        "proposal_answer",
        "proposal_context",
        "proposal_plan",
        "proposal_draft",
        "proposal_verdict",
    ),
    job=JOB,
    group=GROUP,
    policy_actions=(SEND_PROPOSAL,),
    budget_usd={
        "proposal_answer": 0.5,
        "proposal_context": 0.5,
        "proposal_plan": 1.0,
        "proposal_draft": 2.0,
        "proposal_verdict": 1.0,
    },
    models={
        "proposal_answer": "small",
        "proposal_context": "small",
        "proposal_plan": "large",
        "proposal_draft": "large",
        "proposal_verdict": "small",
    },
    # The longest answer each contract allows, at about three characters a token (JSON and
    # short words); tests/ops_assets/proposals/test_answer_tokens.py keeps them in step.
    answer_tokens={
        "proposal_answer": 700,
        "proposal_context": 600,
        "proposal_plan": 1500,
        "proposal_draft": 1600,
        "proposal_verdict": 900,
    },
)
