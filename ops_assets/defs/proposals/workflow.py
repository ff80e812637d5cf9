"""What the proposals workflow is, as data: what it takes, its agents, its policy action, its
budget and model profile. The rest of the folder reads these; nothing outside it needs them
but the config's routing table (category -> workflow)."""

from dataclasses import dataclass, field

GROUP = "proposals"
JOB = "run_proposals"
SEND_PROPOSAL = "send_proposal"
PURPOSE = "proposal"
"""The delivery ledger's purpose: at most one proposal send per (item, destination)."""


@dataclass(frozen=True)
class Workflow:
    name: str
    takes: tuple[str, ...]
    """Triage categories it handles."""
    agents: tuple[str, ...]
    """Its agents, in the order an item meets them."""
    policy_actions: tuple[str, ...]
    budget_usd: dict[str, float] = field(default_factory=dict)
    """Per agent per day, as the policy's budgets.per_workflow_usd would hold them."""
    models: dict[str, str] = field(default_factory=dict)
    """Per agent: the model profile it wants (`small` routes and checks, `large` writes)."""
    max_revisions: int = 2
    """Verifier-driven revisions of one proposal before it goes to the owner."""


PROPOSALS = Workflow(
    name="proposals",
    takes=("sales",),
    agents=("proposal_context", "proposal_plan", "proposal_draft", "proposal_verdict"),
    policy_actions=(SEND_PROPOSAL,),
    budget_usd={
        "proposal_context": 0.5,
        "proposal_plan": 1.0,
        "proposal_draft": 2.0,
        "proposal_verdict": 1.0,
    },
    models={
        "proposal_context": "small",
        "proposal_plan": "large",
        "proposal_draft": "large",
        "proposal_verdict": "small",
    },
)

# Until triage routes through the config's routing table, the workflow takes the items triage
# left for the owner for want of an agent.
WAITING_FOR_AN_AGENT = "no_agent_for_category"
