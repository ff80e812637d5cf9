"""The `send_proposal` action as the policy file says it: the lines proposed for the sample
policy validate and hold every proposal; an operator's `auto` sends one without a wait."""

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
    sample = SAMPLE_POLICY.read_text()
    path.write_text(sample.replace("\nactions:\n", "\nactions:\n" + text.lstrip("\n"), 1))
    return path


def test_the_proposed_sample_lines_hold_every_proposal(tmp_path) -> None:
    from ops_assets.governance.policy import Facts, decide

    policy = load_policy(_with_send_proposal(tmp_path / "p.yaml", SAMPLE_LINES))
    facts = Facts("sales", None, False, False, True, 100.0, True, False)
    assert decide(policy, "send_proposal", facts).verdict == "needs_approval"
    big = Facts("sales", None, False, False, True, 9000.0, True, False)
    assert decide(policy, "send_proposal", big).verdict == "needs_approval"
    assert decide(load_policy(SAMPLE_POLICY), "send_proposal", facts).verdict == "needs_approval"


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
