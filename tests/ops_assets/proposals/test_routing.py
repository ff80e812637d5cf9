"""The routing table names workflows: a name no workflow declares stops triage before it
moves anything (never quietly to the owner), and a client's answer on the thread of a
proposal goes back to the proposals workflow whatever triage calls it."""

import pytest
import yaml
from support import batch_assets

from resources.settings.config import SAMPLE_CONFIG, ConfigError, load_config


def _config(tmp_path, **routing: str):
    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config["routing"].update(routing)
    path = tmp_path / "routing.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_an_unknown_route_is_refused_with_the_known_ones(tmp_path) -> None:
    from ops_assets.orchestration.workflows import check_routing

    check_routing(load_config())  # the sample routes to workflows that exist
    config = load_config(_config(tmp_path, sales="proposal"))
    with pytest.raises(ConfigError, match=r"routing\.sales: 'proposal'.*proposals"):
        check_routing(config)


def test_triage_with_a_typo_in_routing_moves_nothing(bench, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("OPSBENCH_CONFIG", str(_config(tmp_path, support="reply_drafts")))
    key = bench.intake()
    bench.script()
    result = bench.materialize(batch_assets(), key, raise_on_error=False)
    assert not result.success
    assert {i["state"] for i in bench.store.items(batch=key)} == {"received"}


def test_an_answer_to_a_proposal_goes_back_to_the_workflow(bench, lead, kit) -> None:
    """Whatever its category (here the scripted triage's for this mail), a mail on the thread
    of a delivery of a proposals item is routed to `proposals`, and is no new lead."""
    from ops_assets.defs.proposals.leads import answers_a_proposal, leads
    from ops_assets.defs.triage.assets import route_of

    item = lead()
    bench.store.delivery_intent(
        {
            "id": "dlv_0123456789abcdef0123",
            "item_id": item["id"],
            "connector": "smtp",
            "destination": "meg@greenleafyoga.example",
            "purpose": "proposal",
            "content_hash": "h",
        }
    )
    answer = {
        "id": "x",
        "in_reply_to": "<dlv_0123456789abcdef0123@northwind.example>",
        "references": [],
    }
    config = load_config()
    assert route_of(bench.store, answer, "support", config) == "proposals"
    assert route_of(bench.store, answer, "spam", config) == "no_action"
    assert route_of(bench.store, {**answer, "in_reply_to": ""}, "support", config) == (
        "reply_draft"
    )
    assert answers_a_proposal(bench.store, answer)
    assert [i["id"] for i, _ in leads(bench.store)] == [item["id"]]


def test_the_lead_moves_through_the_item_states(bench, lead, kit) -> None:
    item = lead()
    bench.script(*kit.scripts())
    assert bench.materialize(kit.assets()).success
    moved = [a["detail"]["to"] for a in bench.store.audit_for(item["id"]) if a["event"] == "state"]
    assert moved[-4:] == ["triaged", "drafted", "reviewed", "awaiting_approval"]
    current = bench.store.get_item(item["id"])
    assert (current["state"], current["reason_code"]) == ("awaiting_approval", "default")
