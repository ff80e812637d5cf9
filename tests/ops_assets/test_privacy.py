"""The right to be forgotten: export shows everything known about a contact; erase removes it
from memory (old table versions included), the store (payloads, ledger prompts and answers,
outputs, failures, CRM), outbox copies and intake originals, and compacts the SQLite files —
afterwards no file under the home holds the address or the message text."""

from support import batch_assets, outcome_assets, permissive_policy

from ops_assets.privacy import erase, export, find
from resources.memory import EpisodicMemory

PRIYA = "priya@harbourbakery.example"
HER_TEXT = b"can't get into the admin area of the bakery"  # her mail's body, lower-cased


def test_export_then_erase_leaves_no_trace_under_the_home(bench, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    bench.materialize(outcome_assets())
    bench.materialize(batch_assets(), key)  # a re-run: more table versions, more cache uses
    bench.materialize(outcome_assets())
    others = {i["id"] for i in bench.store.items() if i["sender"] != PRIYA}

    known = export(bench.home, bench.store, PRIYA)
    (story,) = known["items"]
    assert story["item"]["sender"] == PRIYA and story["deliveries"] and story["model_calls"]
    assert known["memory"] and known["crm"]["contacts"]
    assert find(bench.home, [PRIYA.encode()])  # before: everywhere

    report = erase(bench.home, bench.store, PRIYA)
    assert report["items"] == 1 and report["still_found"] == []
    assert report["store_rows"]["model_calls"] >= 2 and report["memory_rows"] >= 1
    assert find(bench.home, [PRIYA.encode(), HER_TEXT]) == []

    memory = EpisodicMemory(bench.home.memory)
    assert story["item"]["id"] not in {r["item_id"] for r in memory.search("admin area bakery")}
    assert all(r["contact"] != PRIYA for r in memory.rows())
    # Everyone else is untouched, and the audit log says what happened without saying what.
    assert {i["id"] for i in bench.store.items()} == others
    (record,) = bench.store.audit_for_event("erased")
    assert record["detail"]["items"] == 1 and PRIYA not in str(record)
    assert export(bench.home, bench.store, PRIYA)["items"] == []
