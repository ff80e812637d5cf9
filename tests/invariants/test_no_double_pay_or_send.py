"""Invariants 2 and 3: re-execution pays no model call twice and sends no message twice."""

import dagster as dg
from support import SAMPLES, batch_assets, outcome_assets

from ops_assets.defs.delivery import assets as delivery_module
from ops_assets.defs.delivery.assets import delivery
from ops_assets.defs.triage.assets import triage
from resources.connectors.outbox import FileOutbox


def test_rematerializing_a_batch_makes_no_new_calls_and_no_new_deliveries(bench) -> None:
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    bench.materialize(outcome_assets())
    paid = bench.store.call_totals()["model_calls"]
    sent = sorted(p.name for p in bench.home.outbox.iterdir())
    states = {i["id"]: i["state"] for i in bench.store.items()}

    again = bench.materialize(batch_assets(), key)
    bench.materialize(outcome_assets())
    assert bench.store.call_totals()["model_calls"] == paid
    for asset in ("triage", "reply_draft"):
        (mat,) = again.asset_materializations_for_node(asset)
        assert mat.metadata["model_calls"].value == 0
        assert mat.metadata["cache_hits"].value > 0
    assert sorted(p.name for p in bench.home.outbox.iterdir()) == sent
    assert {i["id"]: i["state"] for i in bench.store.items()} == states
    assert all(len(bench.store.deliveries_for(i)) <= 1 for i in states)


def test_a_changed_output_after_delivery_is_a_proposed_correction(bench, monkeypatch) -> None:
    from resources.llm.resource import LLMResource
    from resources.llm.scripted import ScriptedModel

    key = bench.intake()
    bench.materialize(batch_assets(), key)
    bench.materialize([delivery])
    delivered = [i["id"] for i in bench.store.items(states=["delivered"])]
    sent = sorted(p.name for p in bench.home.outbox.iterdir())
    assert delivered

    class NewVoice(LLMResource):
        def scripted_model(self) -> ScriptedModel:
            return ScriptedModel(
                {
                    "reply_draft": lambda text: {
                        "body": "Hello again! A different answer with enough words to pass checks."
                    }
                }
            )

    bench.resources["llm"] = NewVoice(settings=bench.resources["settings"])
    # A new answer needs a new request: change the temperature so the ledger key changes.
    config_file = bench.home.root / "c.yaml"
    config_file.write_text(
        (SAMPLES.parent.parent / "resources" / "settings" / "sample_config.yaml")
        .read_text()
        .replace("temperature: 0.0", "temperature: 0.1")
    )
    monkeypatch.setenv("OPSBENCH_CONFIG", str(config_file))
    bench.materialize(batch_assets(), key)
    bench.materialize([delivery])
    for item_id in delivered:
        item = bench.store.get_item(item_id)
        assert (item["state"], item["reason_code"]) == ("awaiting_human", "proposed_correction")
    assert sorted(p.name for p in bench.home.outbox.iterdir()) == sent


class _Counting(FileOutbox):
    sends = 0

    def send(self, payload: bytes, idempotency_key: str):
        type(self).sends += 1
        return super().send(payload, idempotency_key)


def test_a_crash_between_send_and_record_does_not_send_twice(bench, monkeypatch) -> None:
    monkeypatch.setattr(_Counting, "sends", 0)  # counted per test: it runs once per store
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    ready = len(bench.store.ready_to_send())
    monkeypatch.setattr(
        "resources.connectors.resource.ConnectorsResource.reply_channel",
        lambda self, **_: _Counting(self.settings.home_dir().outbox),
    )
    original = bench.store.delivery_mark
    crashed = []

    def crash_after_send(delivery_id, state, **kw):
        if state == "sent" and not crashed:
            crashed.append(delivery_id)
            raise RuntimeError("power cut after the send, before the ledger write")
        return original(delivery_id, state, **kw)

    monkeypatch.setattr(bench.store, "delivery_mark", crash_after_send)
    first = bench.materialize([delivery], raise_on_error=False)
    assert not first.success and crashed
    monkeypatch.setattr(bench.store, "delivery_mark", original)
    assert bench.materialize([delivery]).success

    assert _Counting.sends == ready  # the crashed one was looked up, not sent again
    assert len(list(bench.home.outbox.glob("*.eml"))) == ready
    (row,) = [d for d in bench.store.all_deliveries() if d["id"] == crashed[0]]
    assert row["state"] == "confirmed"
    assert len(bench.store.items(states=["delivered"])) == ready


def test_without_far_side_dedupe_an_unconfirmed_send_waits_for_a_human(bench, monkeypatch) -> None:
    class NoDedupe(_Counting):
        can_dedupe = False

    key = bench.intake()
    bench.materialize(batch_assets(), key)
    (item, *_) = bench.store.ready_to_send()
    monkeypatch.setattr(
        "resources.connectors.resource.ConnectorsResource.reply_channel",
        lambda self, **_: NoDedupe(self.settings.home_dir().outbox),
    )
    # Simulate a crash after an attempt whose receipt never came back.
    draft = bench.store.get_output(item["id"], "reply_draft")["output"]
    key_ = delivery_module.delivery_id(item["id"], draft["to"], delivery_module.PURPOSE)
    bench.store.delivery_intent(
        {
            "id": key_,
            "item_id": item["id"],
            "destination": draft["to"],
            "purpose": "reply",
            "connector": "outbox",
            "content_hash": "x",
        }
    )
    assert bench.store.delivery_attempt(key_, 0)
    NoDedupe.sends = 0
    assert bench.materialize([delivery]).success
    held = bench.store.get_item(item["id"])
    assert (held["state"], held["reason_code"]) == ("awaiting_human", "delivery_unconfirmed")
    assert not (bench.home.outbox / f"{key_}.eml").exists()


def test_delivery_drains_only_ready_items(bench) -> None:
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    before = {i["id"] for i in bench.store.items(states=["awaiting_human", "no_action"])}
    bench.materialize([delivery])
    assert not bench.store.ready_to_send()
    assert {i["id"] for i in bench.store.items(states=["awaiting_human", "no_action"])} == before


def test_a_rerun_without_answers_leaves_delivered_items_alone(bench) -> None:
    from ops_assets.governance import controls

    key = bench.intake()
    bench.materialize(batch_assets(), key)
    bench.materialize([delivery])
    delivered = {i["id"] for i in bench.store.items(states=["delivered"])}
    before = {i: bench.store.get_output(i, "reply_draft")["output_hash"] for i in delivered}
    controls.kill(bench.store)  # every call now comes back without an answer
    bench.materialize(batch_assets(), key)
    assert {i["id"] for i in bench.store.items(states=["delivered"])} == delivered
    after = {i: bench.store.get_output(i, "reply_draft")["output_hash"] for i in delivered}
    assert after == before


def test_a_delivery_run_leaves_the_drain_to_a_live_one_and_takes_over_from_a_dead_one(
    bench, monkeypatch
) -> None:
    # Dagster's in-process execution is not thread-safe, so the overlap of two runs is staged:
    # a live run holds the delivery lock, exactly as an overlapping daemon-launched run would.
    _policy_all_auto(bench, monkeypatch)
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    ready = len(bench.store.ready_to_send())
    assert ready >= 3
    live = dg.DagsterRun(
        job_name="deliver_and_remember", run_id="0" * 36, status=dg.DagsterRunStatus.STARTED
    )
    bench.instance.add_run(live)
    assert bench.store.acquire_lock("delivery", live.run_id, is_stale=lambda owner: False)

    skipped = bench.materialize([delivery])
    # A run that did nothing records no materialization (only its health check).
    assert skipped.success and not skipped.asset_materializations_for_node("delivery")
    assert [c.check_name for c in skipped.get_asset_check_evaluations()] == ["connectors_healthy"]
    assert not list(bench.home.outbox.glob("*.eml")) and len(bench.store.ready_to_send()) == ready

    bench.instance.report_run_failed(bench.instance.get_run_by_id(live.run_id), "crashed")
    bench.materialize([delivery])  # the holder is dead: this run takes the lock and drains
    assert len(list(bench.home.outbox.glob("*.eml"))) == ready
    assert [d["attempts"] for d in bench.store.all_deliveries()] == [1] * ready


def test_an_attempt_is_counted_once_compare_and_set(bench) -> None:
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    (item, *_) = bench.store.ready_to_send()
    row = bench.store.delivery_intent(
        {
            "id": "dlv_x",
            "item_id": item["id"],
            "destination": "x@y.example",
            "purpose": "reply",
            "connector": "outbox",
            "content_hash": "h",
        }
    )
    assert bench.store.delivery_attempt("dlv_x", row["attempts"])
    assert not bench.store.delivery_attempt("dlv_x", row["attempts"])  # the racer loses


def _policy_all_auto(bench, monkeypatch) -> None:
    path = bench.home.root / "auto.yaml"
    path.write_text("actions: {send_reply: {default: auto}}\n")
    monkeypatch.setenv("OPSBENCH_POLICY", str(path))


def test_the_delivery_lock_passes_only_from_a_dead_holder(bench) -> None:
    store = bench.store
    assert store.acquire_lock("delivery", "run-a", is_stale=lambda owner: False)
    assert not store.acquire_lock("delivery", "run-b", is_stale=lambda owner: False)
    assert store.acquire_lock("delivery", "run-b", is_stale=lambda owner: owner == "run-a")
    store.release_lock("delivery", "run-a")  # not the holder any more: no effect
    assert not store.acquire_lock("delivery", "run-c", is_stale=lambda owner: False)
    store.release_lock("delivery", "run-b")
    assert store.acquire_lock("delivery", "run-c", is_stale=lambda owner: False)


def test_items_a_dead_run_left_half_drafted_are_finished_by_the_next_run(
    bench, monkeypatch
) -> None:
    _policy_all_auto(bench, monkeypatch)
    key = bench.intake()
    bench.materialize([triage], key)
    # Replies (a sales lead routed to the proposals workflow waits for its own job).
    triaged = [i for i in bench.store.items(states=["triaged"]) if i["route"] == "reply_draft"]
    assert len(triaged) >= 2
    # A run died after moving these on but before gating them.
    bench.store.transition(triaged[0]["id"], "drafted", actor="test")
    bench.store.transition(triaged[1]["id"], "drafted", actor="test")
    bench.store.transition(triaged[1]["id"], "reviewed", actor="test")
    bench.materialize(batch_assets(), key)
    for item in triaged:
        assert bench.store.get_item(item["id"])["state"] == "approved"
