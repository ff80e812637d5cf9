"""A model that is down while the proposals workflow works: each lead rests as `deferred`
(`model_unavailable`) at whichever agent met the outage, like the replies, and once the
deferred sensor releases it (the model answers its probe again) it goes on from where it
stopped, to a proposal waiting for the owner, with nothing asked twice that was answered.

The hole: the workflow left such a lead in flight (`triaged` or `drafted`), so its sensor
started a run against the dead model on every tick and `opsbench demo` never rested."""

import datetime as dt

import pytest
from support import batch_assets

from resources.llm.scripted import Outage
from resources.settings.config import load_config
from resources.store import proposals as rows
from sensors.deferred import resume_deferred


def _down(body: dict) -> dict:
    raise Outage("model server down")


def _resume(bench) -> None:
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    config = load_config()
    resume_deferred(bench.store, config, now=dt.datetime.now(dt.UTC), model_healthy=lambda: True)
    (batch,) = resume_deferred(bench.store, config, now=later, model_healthy=lambda: True)
    bench.add_batch_partition(batch)
    assert bench.materialize(batch_assets(), batch).success
    assert bench.store.get_item(bench.lead_id)["state"] == "triaged"  # routed back here


@pytest.mark.slow
@pytest.mark.parametrize("agent", ["proposal_context", "proposal_draft", "proposal_verdict"])
def test_a_lead_met_by_an_outage_is_deferred_then_resumes(bench, lead, kit, agent) -> None:
    item = lead()
    bench.lead_id = item["id"]
    scripts, request_scripts = kit.scripts()
    if agent == "proposal_context":
        scripts = {**scripts, agent: lambda text: _down({})}
    else:
        request_scripts = {**request_scripts, agent: _down}
    bench.script(scripts, request_scripts)
    assert bench.materialize(kit.assets()).success
    current = bench.store.get_item(item["id"])
    assert (current["state"], current["reason_code"]) == ("deferred", "model_unavailable")

    model = bench.script(*kit.scripts())
    _resume(bench)
    assert bench.materialize(kit.assets()).success
    current = bench.store.get_item(item["id"])
    assert current["state"] == "awaiting_approval", (current["state"], current["reason_code"])
    (version,) = rows.all_versions(bench.store, item["id"])
    assert version["status"] == "awaiting_approval"
    asked = {c["asset"] for c in bench.store.calls_for_item(item["id"]) if not c["cached"]}
    assert agent in asked  # the agent that met the outage was asked again, the rest reused
    assert model.calls <= 4
