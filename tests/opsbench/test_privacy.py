"""The right to be forgotten: export shows everything known about a contact; erase removes it
from memory (facts, episodes and every old table version), the store (payloads, ledger prompts
and answers, outputs, failures, CRM, memory contexts), outbox copies, intake originals and
captured logs, and compacts the SQLite files — afterwards neither search, nor an old table
version, nor any file under the home holds the address or the message text. And an erase
wins against delivery: nothing is accepted by the SMTP server after it returns, a refused
erase still blocks sends to the address, and a bounce quoting it leaves no trace."""

import json

import pytest
from support import batch_assets, outcome_assets, permissive_policy

from ops_assets.defs.archivist.assets import memory_facts
from opsbench.privacy import erase, export, find
from resources.memory import EPISODIC, FACTS, Memory
from resources.memory.embeddings import HashingEmbedder
from resources.store import RESTING

PRIYA = "priya@harbourbakery.example"
HER_TEXT = b"can't get into the admin area of the bakery"  # her first mail's body, lower-cased
HER_FOLLOW_UP = "From now on I prefer a phone call when the admin area breaks again."


def _her_second_mail(bench, tmp_path):
    mail = tmp_path / "priya-again.json"
    mail.write_text(
        json.dumps(
            {
                "from": f"Priya Shah <{PRIYA}>",
                "subject": "Admin area broken again",
                "body": f"Hi Alex, the admin area of the bakery is down again. {HER_FOLLOW_UP}",
                "message_id": "<again-1@harbourbakery.example>",
            }
        )
    )
    return bench.intake([mail])


def test_export_then_erase_leaves_no_trace_under_the_home(bench, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    key = bench.intake()
    bench.materialize(batch_assets(), key)
    bench.materialize(outcome_assets())
    bench.materialize([memory_facts])
    second = _her_second_mail(bench, tmp_path)
    bench.materialize(batch_assets(), second)  # drafted with what memory knows of her
    bench.materialize(outcome_assets())
    bench.materialize([memory_facts])
    bench.materialize(batch_assets(), key)  # a re-run: more table versions, more cache uses
    others = {i["id"] for i in bench.store.items() if i["sender"] != PRIYA}

    known = export(bench.home, bench.store, PRIYA)
    assert len(known["items"]) == 2 and known["memory"] and known["facts"]
    assert any(s["memory_context"] and s["memory_context"][0]["row_ids"] for s in known["items"])
    story = known["items"][0]
    assert story["item"]["sender"] == PRIYA and story["deliveries"] and story["model_calls"]
    assert known["crm"]["contacts"]
    memory = Memory(bench.home.memory, HashingEmbedder)
    old = memory.versions(EPISODIC)[0]["version"]
    assert any(r["contact"] == PRIYA for r in memory.as_of(EPISODIC, old + 1))
    # A captured log that quotes her (no code of ours logs text, but a library might).
    step_log = bench.home.dagster / "storage" / "run-x" / "compute_logs" / "step.err"
    step_log.parent.mkdir(parents=True)
    step_log.write_text(f"warning: could not parse {PRIYA}\n")
    (bench.home.root / "logs").mkdir(exist_ok=True)
    (bench.home.root / "logs" / "daemon.log").write_text(f"sensor saw {PRIYA}\n")
    assert find(bench.home, [PRIYA.encode()])  # before: everywhere

    report = erase(bench.home, bench.store, PRIYA)
    assert report["items"] == 2 and report["still_found"] == []
    assert report["store_rows"]["model_calls"] >= 2 and report["memory"]["facts"] >= 1
    assert report["store_rows"]["memory_context"] >= 2
    needles = [PRIYA.encode(), HER_TEXT, HER_FOLLOW_UP.lower().encode()]
    assert find(bench.home, needles) == []
    assert not step_log.exists() and any(bench.home.dagster.rglob("*.db"))

    # Search finds nothing of hers; no version left holds her rows.
    for table in (EPISODIC, FACTS):
        hits = memory.search(table, "admin area bakery phone call", limit=50)
        assert all(r["contact"] != PRIYA for r in hits)
        for version in memory.versions(table):
            rows = memory.as_of(table, version["version"])
            assert all(r["contact"] != PRIYA for r in rows)
            assert not any(HER_FOLLOW_UP in r["text"] for r in rows)
    assert bench.store.memory_contexts([story["item"]["id"]]) == []
    # Everyone else is untouched, and the audit log says what happened without saying what.
    assert {i["id"] for i in bench.store.items()} == others
    # Memory holds the rest of them at rest (the sales lead, routed to the proposals
    # workflow whose job this test does not run, is still in flight: not remembered yet).
    resting = {i["id"] for i in bench.store.items(states=RESTING)}
    assert {r["item_id"] for r in memory.rows(EPISODIC)} == others & resting
    assert len(others - resting) == 1
    (record,) = bench.store.audit_for_event("erased")
    assert record["detail"]["items"] == 2 and PRIYA not in str(record)
    again = export(bench.home, bench.store, PRIYA)
    assert again["items"] == [] and again["memory"] == [] and again["facts"] == []


def test_company_memory_is_erased_from_colleagues_prompts_and_shared_facts_kept(
    bench, monkeypatch, tmp_path
) -> None:
    """Company-wide facts travel into colleagues' prompts (and so into the call ledger):
    erasing their author removes those copies too; a fact a colleague also stated stays,
    under the colleague."""
    from support import json_mail

    policy = permissive_policy(tmp_path / "p.yaml")
    policy.write_text("known_domains: [harbourbakery.example]\n" + policy.read_text())
    monkeypatch.setenv("OPSBENCH_POLICY", str(policy))
    mail = tmp_path / "mail"
    secret = "All of us prefer invoices through the Quokkaportal website."
    shared = "Our team would prefer calls before noon."

    def run(name: str, sender: str, body: str) -> None:
        key = bench.intake([json_mail(mail, name, sender, f"About {name}", body)])
        bench.materialize(batch_assets(), key)
        bench.materialize(outcome_assets())
        bench.materialize([memory_facts])

    run("p1", f"Priya Shah <{PRIYA}>", f"Hello. {secret} {shared}")
    run("t1", "Tom Baker <tom@harbourbakery.example>", f"Hi there. {shared}")
    run("t2", "Tom Baker <tom@harbourbakery.example>", "Could you send the invoice again?")
    tom = [i for i in bench.store.items() if i["sender"] == "tom@harbourbakery.example"][-1]
    tom_prompts = json.dumps(
        [
            bench.store.get_call(c["request_hash"])["request"]
            for c in bench.store.calls_for_item(tom["id"])
        ]
    )
    assert "Quokkaportal" in tom_prompts  # her company fact reached his draft

    report = erase(bench.home, bench.store, PRIYA)
    assert report["still_found"] == [] and report["store_rows"]["calls_quoting"] >= 1
    assert find(bench.home, [PRIYA.encode(), b"quokkaportal"]) == []
    facts = Memory(bench.home.memory).rows(FACTS)
    (kept,) = [f for f in facts if "calls before noon" in f["text"]]
    assert kept["contact"] == "tom@harbourbakery.example" and report["shared_facts_kept"] == 1
    toms = {i["id"] for i in bench.store.items()}
    assert set(kept["source_items"]) <= toms and kept["source_items"]
    assert {i["sender"] for i in bench.store.items()} == {"tom@harbourbakery.example"}


def test_erase_and_memory_writers_never_overlap(bench) -> None:
    """One memory writer at a time: a write in flight could put back what an erase removed."""
    import os

    import pytest

    from ops_assets.defs.memory.assets import episodic_memory
    from opsbench.privacy import EraseBlocked
    from resources.memory import WRITE_LOCK

    key = bench.intake()
    bench.materialize(batch_assets(), key)
    holder = f"erase-{os.getpid()}-1"  # another erase, alive
    assert bench.store.acquire_lock(WRITE_LOCK, holder, lambda _h: False)
    result = bench.materialize([episodic_memory])
    assert result.success and not result.asset_materializations_for_node("episodic_memory")
    assert bench.store.unremembered()  # left for the next run, nothing lost
    with pytest.raises(EraseBlocked):
        erase(bench.home, bench.store, PRIYA, wait_s=0.5)
    bench.store.release_lock(WRITE_LOCK, holder)
    assert erase(bench.home, bench.store, PRIYA)["items"] == 1
    assert bench.materialize([episodic_memory]).success and not bench.store.unremembered()


def test_a_bounce_quoting_the_address_then_erase_exits_0_and_finds_nothing(
    bench, monkeypatch, tmp_path
) -> None:
    """A refusal quoting the recipient must not land in the append-only audit log: erase
    could never pass its own scan after any bounce."""
    from support import SmtpSink, write_config

    from opsbench.cli import main

    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    with SmtpSink(answer=f"550 5.1.1 <{PRIYA}>: mailbox unknown") as sink:
        config = write_config(tmp_path / "c.yaml", smtp={"enabled": True, "port": sink.port})
        monkeypatch.setenv("OPSBENCH_CONFIG", str(config))
        key = bench.intake()
        bench.materialize(batch_assets(), key)
        bench.materialize(outcome_assets())
    (hers,) = bench.store.items_of_contact(PRIYA)
    assert (hers["state"], hers["reason_code"]) == ("awaiting_human", "delivery_failed")

    assert (
        main(["erase", "--contact", PRIYA, "--home", str(bench.home.root), "--json", "--yes"]) == 0
    )
    assert find(bench.home, [PRIYA.encode(), b"mailbox unknown"]) == []


@pytest.mark.slow  # a drain in a process of its own
def test_erase_during_a_slow_smtp_send_wins_and_the_drain_ends_cleanly(
    bench, monkeypatch, tmp_path
) -> None:
    """A drain in its own process is inside a slow DATA when the erase starts: nothing is
    accepted after the erase returns, and the drain finishes without an error."""
    import os
    import subprocess
    import sys
    import time

    from support import SmtpSink, write_config

    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    with SmtpSink(delay_s=1.0) as sink:
        config = write_config(
            tmp_path / "c.yaml", smtp={"enabled": True, "port": sink.port, "rate_per_minute": None}
        )
        monkeypatch.setenv("OPSBENCH_CONFIG", str(config))
        key = bench.intake()
        bench.materialize(batch_assets(), key)
        assert any(i["state"] == "approved" for i in bench.store.items_of_contact(PRIYA))
        drain = subprocess.Popen(
            [sys.executable, "-c", DRAIN, str(bench.home.dagster)],
            env=dict(os.environ),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert sink.data_started.wait(120), drain.communicate()[1][-3000:]
        report = erase(bench.home, bench.store, PRIYA)
        erased_at = time.time()
        _, err = drain.communicate(timeout=120)
        accepted = list(zip(sink.accepted_at, sink.messages, strict=True))

    assert drain.returncode == 0, err[-3000:]  # the drain ended cleanly
    assert accepted and all(at < erased_at for at, _ in accepted)  # 0 accepted after erase
    assert sum(PRIYA.encode() in message.lower() for _, message in accepted) <= 1
    assert report["still_found"] == [] and bench.store.items_of_contact(PRIYA) == []
    assert find(bench.home, [PRIYA.encode(), HER_TEXT]) == []


# The delivery step as the daemon's run worker runs it: in its own process, on the home's
# Dagster instance (so the erase sees its run alive and waits for its lock).
DRAIN = """
import sys
import dagster as dg
from location.definitions import resource_defs
from ops_assets.defs.delivery.assets import delivery
with dg.DagsterInstance.from_config(sys.argv[1]) as instance:
    dg.materialize([delivery], resources=resource_defs(), instance=instance)
"""


def test_erase_refuses_while_a_run_works_on_their_mail_and_blocks_sends_meanwhile(
    bench, monkeypatch, tmp_path
) -> None:
    import dagster as dg
    import pytest

    from ops_assets.defs.delivery.assets import delivery
    from opsbench.privacy import EraseBlocked

    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    key = bench.intake()
    (hers,) = bench.store.items_of_contact(PRIYA)
    # A batch run of her mail, live (launched by the daemon, not yet finished).
    run = dg.DagsterRun(job_name="process_batch", tags={"dagster/partition": key})
    bench.instance.add_run(run.with_status(dg.DagsterRunStatus.STARTED))
    with pytest.raises(EraseBlocked, match="working on this contact"):
        erase(bench.home, bench.store, PRIYA, wait_s=0.5)
    assert bench.store.get_item(hers["id"])["state"] == "received"  # untouched: refused

    # Meanwhile her reply is drafted and approved: the refused erase still blocks the send.
    bench.materialize(batch_assets(), key)
    assert bench.store.get_item(hers["id"])["state"] == "approved"
    bench.materialize([delivery])
    held = bench.store.get_item(hers["id"])
    assert (held["state"], held["reason_code"]) == ("awaiting_human", "contact_erased")
    assert not any(PRIYA.encode() in p.read_bytes().lower() for p in bench.home.outbox.iterdir())
    assert len(bench.store.items(states=["delivered"])) >= 1  # the others went out

    bench.instance.report_run_failed(bench.instance.get_run_by_id(run.run_id))
    report = erase(bench.home, bench.store, PRIYA)
    assert report["items"] == 1 and report["still_found"] == []
