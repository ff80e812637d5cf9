"""The `send_proposal` action as the policy file says it: the sample policy holds every
proposal (the big ones named); an operator's `auto` sends one without a wait; the workflow's
agents spend against their own budgets."""

from pathlib import Path

from resources.settings.policy import SAMPLE_POLICY, load_policy
from resources.store import proposals as rows

SAMPLE_LINES = """
  send_proposal:
    # Every proposal waits for the owner; the rules name why when they also hold.
    default: needs_approval
    rules:
      - name: proposal_over_limit
        when: {amount_above: 5000}
        then: needs_approval
      - name: risky_request
        when: {flagged: true}
        then: needs_approval
"""


def _with_send_proposal(path: Path, text: str) -> Path:
    """The sample policy with its `send_proposal` action replaced by `text`."""
    import yaml

    sample = yaml.safe_load(SAMPLE_POLICY.read_text())
    sample["actions"].update(yaml.safe_load(text))
    path.write_text(yaml.safe_dump(sample))
    return path


def test_the_proposed_sample_lines_hold_every_proposal(tmp_path) -> None:
    from ops_assets.governance.policy import Facts, decide

    policy = load_policy(_with_send_proposal(tmp_path / "p.yaml", SAMPLE_LINES))
    facts = Facts("sales", None, False, False, True, 100.0, True, False)
    assert decide(policy, "send_proposal", facts).verdict == "needs_approval"
    big = Facts("sales", None, False, False, True, 9000.0, True, False)
    assert decide(policy, "send_proposal", big).verdict == "needs_approval"
    sample = load_policy(SAMPLE_POLICY)
    assert decide(sample, "send_proposal", facts).verdict == "needs_approval"
    assert decide(sample, "send_proposal", big).rule == "default"
    huge = Facts("sales", None, False, False, True, 25000.0, True, False)
    assert decide(sample, "send_proposal", huge).rule == "large_proposal"


def test_every_workflow_agent_has_its_own_budget_in_the_sample_policy() -> None:
    from ops_assets.orchestration.workflows import workflows

    budgets = load_policy(SAMPLE_POLICY).budgets.per_workflow_usd
    for workflow in workflows().values():
        for agent, usd in workflow.budget_usd.items():
            assert budgets.get(agent) == usd, (workflow.name, agent)


def test_an_auto_policy_sends_without_the_owner(bench, lead, sink, kit, monkeypatch, tmp_path):
    auto = "  send_proposal:\n    default: auto\n    rules: []\n"
    monkeypatch.setenv("OPSBENCH_POLICY", str(_with_send_proposal(tmp_path / "p.yaml", auto)))
    item = lead()
    bench.script(*kit.scripts())
    assert bench.materialize(kit.assets()).success
    assert rows.latest(bench.store, item["id"])["status"] == "sent"
    assert len(sink.messages) == 1
    (approval,) = bench.store.approvals_for(item["id"])
    assert (approval["decision"], approval["actor"]) == ("approved", "policy")
