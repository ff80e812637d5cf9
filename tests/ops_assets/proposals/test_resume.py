"""A crash anywhere in the proposals workflow resumes without a second paid call or a second
send: answers come from the call ledger, and an SMTP send without a recorded receipt waits
for the owner as "may have arrived"."""

import pytest

from ops_assets.defs.delivery import ledger
from ops_assets.defs.proposals.approval.owner import approve_proposal
from resources.store import proposals as rows


@pytest.mark.slow
def test_a_run_that_stops_between_steps_pays_each_call_once(bench, lead, kit) -> None:
    item = lead()
    model = bench.script(*kit.scripts())
    context, plan, draft, *_ = kit.assets()
    assert bench.materialize([context, plan, draft]).success  # then the run died
    assert model.calls == 3
    assert bench.materialize(kit.assets()).success
    assert model.calls == 4  # only the verifier was new
    for _ in range(2):  # re-runs, a backfill: nothing is asked again
        assert bench.materialize(kit.assets()).success
    assert model.calls == 4
    assert [v["status"] for v in rows.all_versions(bench.store, item["id"])] == [
        "awaiting_approval"
    ]


@pytest.mark.slow
def test_a_crash_after_the_send_never_sends_again(bench, lead, kit, sink, monkeypatch) -> None:
    item = lead()
    bench.script(*kit.scripts())
    bench.materialize(kit.assets())
    approve_proposal(bench.store, item["id"])
    real = ledger.failpoint

    def crash(name: str) -> None:
        if name == "delivery:after_send:smtp":
            raise SystemExit("power cut after the server took the message")
        real(name)

    monkeypatch.setattr(ledger, "failpoint", crash)
    delivery = kit.assets()[-1]
    assert not bench.materialize([delivery], raise_on_error=False).success
    assert len(sink.messages) == 1
    monkeypatch.setattr(ledger, "failpoint", real)

    assert bench.materialize(kit.assets()).success
    assert bench.materialize(kit.assets()).success
    assert len(sink.messages) == 1
    current = bench.store.get_item(item["id"])
    assert (current["state"], current["reason_code"]) == ("awaiting_human", "delivery_unconfirmed")
    assert rows.latest(bench.store, item["id"])["status"] == "send_unconfirmed"
