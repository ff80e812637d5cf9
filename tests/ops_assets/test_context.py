"""Context injection: what memory an agent's prompt carries. The right contact's facts reach
it and nobody else's; the token budget and top-k hold; the choice is made as of the item's
first processing and reused, so re-runs and backfills make no model call."""

import json

import pytest
from support import batch_assets, json_mail, outcome_assets, permissive_policy

from ops_assets.agents.context import MAX_ROW_CHARS, context_for, estimate_tokens
from ops_assets.defs.archivist.assets import memory_facts
from resources.memory import EPISODIC, FACTS, Memory
from resources.memory.embeddings import HashingEmbedder

ANN, BOB = "Ann Lee <ann@annstudio.example>", "Bob Roe <bob@bobshop.example>"
ANN_PREFERS = "From now on I prefer a phone call for anything urgent."


def _fact(fact_id: str, contact: str, text: str, **extra: object) -> dict:
    return {
        "fact_id": fact_id,
        "contact": contact,
        "company": contact.rsplit("@", 1)[-1],
        "scope": "contact",
        "kind": "preference",
        "topic": "contact_channel",
        "status": "active",
        "text": text,
        "source_rows": [],
        "source_items": [],
        "created_at": "2026-01-01T00:00:00+00:00",
        **extra,
    }


def _item(item_id: str, sender: str, subject: str = "Website", body: str = "Hello") -> dict:
    return {"id": item_id, "sender": sender, "subject": subject, "body": body}


def _requests_for(bench, item_id: str, asset: str) -> list[str]:
    """The user messages the ledger holds for an item's calls by one asset."""
    calls = [c for c in bench.store.calls_for_item(item_id) if c["asset"] == asset]
    texts = []
    for call in calls:
        request = bench.store.get_call(call["request_hash"])["request"]
        texts += [m["content"] for m in request["messages"] if m["role"] == "user"]
    return texts


@pytest.fixture
def memory(bench) -> Memory:
    return Memory(bench.home.memory, HashingEmbedder)


def test_a_fact_reaches_its_contact_and_their_company_only(bench, memory) -> None:
    memory.write(
        FACTS,
        [
            _fact("f_ann", "ann@annstudio.example", "Prefers a phone call for urgent things."),
            _fact("f_bob", "bob@bobshop.example", "Wants invoices by post, never email."),
            _fact(
                "f_team",
                "ann@annstudio.example",
                "The whole studio team reads mail in English only.",
                scope="company",
                topic="language",
            ),
            _fact("f_carl", "carl@gmail.com", "Carl is away every August."),
        ],
    )

    def seen(sender: str, shared: frozenset[str] = frozenset({"annstudio.example"})) -> str:
        item = _item(f"itm_{sender.split('@')[0]}{len(shared)}", sender)
        return context_for(
            bench.store,
            memory,
            item,
            "reply_draft",
            budget=600,
            top_k=8,
            run_id="r",
            company_domains=shared,
        ).render()

    ann, bob = seen("ann@annstudio.example"), seen("bob@bobshop.example")
    assert "phone call" in ann and "English only" in ann and "invoices by post" not in ann
    assert "invoices by post" in bob and "phone call" not in bob and "English" not in bob
    colleague = seen("dora@annstudio.example")  # same company: the company fact, not Ann's
    assert "English only" in colleague and "phone call" not in colleague
    # Only where the operator lists the company as known: a domain is not proof of one.
    assert "English only" not in seen("dora@annstudio.example", frozenset())
    # A free-mail domain is nobody's company.
    assert "August" in seen("carl@gmail.com") and "August" not in seen("eve@gmail.com")
    assert seen("stranger@elsewhere.example") == "(nothing on record)"


def test_the_token_budget_and_top_k_hold(bench, memory) -> None:
    long_text = "The sender described the broken booking form in great detail. " * 40
    memory.write(
        EPISODIC,
        [
            {
                "row_id": f"old{n}:item",
                "item_id": f"old{n}",
                "contact": "ann@annstudio.example",
                "kind": "item",
                "text": f"{n} {long_text}",
                "created_at": f"2026-01-{n + 1:02d}T00:00:00+00:00",
            }
            for n in range(25)
        ],
    )
    for budget, top_k in ((200, 8), (600, 3), (5000, 4)):
        item = _item(f"itm_{budget}", "ann@annstudio.example", "Booking form", "Still broken")
        context = context_for(
            bench.store, memory, item, "reply_draft", budget=budget, top_k=top_k, run_id="r"
        )
        assert 0 < len(context.rows) <= top_k
        assert context.tokens <= budget
        assert sum(estimate_tokens(line) for line in context.lines()) == context.tokens
        assert all(len(line) <= MAX_ROW_CHARS + 40 for line in context.lines())
    nothing = context_for(
        bench.store,
        memory,
        _item("itm_0", "ann@annstudio.example"),
        "x",
        budget=0,
        top_k=8,
        run_id="r",
    )
    assert nothing.rows == []


def test_context_is_as_of_first_processing_and_reused(bench, memory) -> None:
    ann = "ann@annstudio.example"
    memory.write(
        EPISODIC,
        [
            {
                "row_id": "itm_me:item",
                "item_id": "itm_me",
                "contact": ann,
                "kind": "item",
                "text": "my own words",
                "created_at": "2026-01-01T00:00:00+00:00",
            },
            {
                "row_id": "itm_old:item",
                "item_id": "itm_old",
                "contact": ann,
                "kind": "item",
                "text": "an older ticket about the gallery",
                "created_at": "2026-01-02T00:00:00+00:00",
            },
            {
                "row_id": "itm_new:item",
                "item_id": "itm_new",
                "contact": ann,
                "kind": "item",
                "text": "written after this item",
                "created_at": "2999-01-01T00:00:00+00:00",
            },
        ],
    )
    item = _item("itm_me", ann, "Gallery", "The gallery again")
    first = context_for(bench.store, memory, item, "reply_draft", budget=600, top_k=8, run_id="r")
    assert first.refs == ["episodic:itm_old:item"]  # not its own row, nothing newer

    # Memory changes afterwards: a new row, and the chosen row rewritten. The item keeps what
    # it saw, word for word (read at the recorded table version).
    memory.write(
        EPISODIC,
        [
            {
                "row_id": "itm_more:item",
                "item_id": "itm_more",
                "contact": ann,
                "kind": "item",
                "text": "the gallery, a third time",
                "created_at": "2026-01-03T00:00:00+00:00",
            },
            {
                "row_id": "itm_old:item",
                "item_id": "itm_old",
                "contact": ann,
                "kind": "item",
                "text": "rewritten later",
                "created_at": "2026-01-02T00:00:00+00:00",
            },
        ],
    )
    again = context_for(bench.store, memory, item, "reply_draft", budget=600, top_k=8, run_id="r2")
    assert again.refs == first.refs and again.render() == first.render()


def test_reply_draft_carries_the_fact_and_reruns_make_no_call(bench, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    mail = tmp_path / "mail"
    first = bench.intake(
        [json_mail(mail, "ann1", ANN, "Booking form broken", f"It fails on submit. {ANN_PREFERS}")]
    )
    bench.materialize(batch_assets(), first)
    bench.materialize(outcome_assets())
    bench.materialize([memory_facts])
    (fact,) = [f for f in Memory(bench.home.memory).rows(FACTS) if f["kind"] == "preference"]
    assert fact["contact"] == "ann@annstudio.example" and fact["source_rows"]

    second = bench.intake(
        [
            json_mail(mail, "ann2", ANN, "Booking form again", "Still failing, can you help?"),
            json_mail(mail, "bob1", BOB, "Booking form help", "How do I add a booking form?"),
        ]
    )
    result = bench.materialize(batch_assets(), second)
    by_sender = {i["sender"]: i for i in bench.store.items(batch=second)}
    ann_id, bob_id = (
        by_sender["ann@annstudio.example"]["id"],
        by_sender["bob@bobshop.example"]["id"],
    )
    (prompt,) = _requests_for(bench, ann_id, "reply_draft")
    assert "phone call for anything urgent" in prompt and "<<<MEMORY" in prompt
    assert all("phone call" not in text for text in _requests_for(bench, bob_id, "reply_draft"))
    assert any("phone call" in text for text in _requests_for(bench, ann_id, "review"))
    meta = result.asset_materializations_for_node("reply_draft")[0].metadata
    used = meta["memory_row_ids"].value
    assert f"facts:{fact['fact_id']}" in used[ann_id] and bob_id not in used
    assert "phone call" not in json.dumps({k: str(v.value) for k, v in meta.items()})
    recorded = bench.store.memory_context(ann_id, "reply_draft")
    assert recorded["row_ids"] == used[ann_id] and recorded["tokens"] <= 600
    # ... and with the output it shaped: the draft's row and the review's.
    assert bench.store.get_output(ann_id, "reply_draft")["memory_ids"] == used[ann_id]
    assert bench.store.get_output(ann_id, "review")["memory_ids"]

    # More memory arrives (Ann writes again), then the batch is re-run: same context, and
    # every answer comes from the ledger.
    third = bench.intake([json_mail(mail, "ann3", ANN, "Booking", "I prefer email now.")])
    bench.materialize(batch_assets(), third)
    bench.materialize(outcome_assets())
    bench.materialize([memory_facts])
    rerun = bench.materialize(batch_assets(), second)
    for asset in ("triage", "reply_draft", "review"):
        (mat,) = rerun.asset_materializations_for_node(asset)
        assert mat.metadata["model_calls"].value == 0, asset
    assert bench.store.memory_context(ann_id, "reply_draft")["row_ids"] == used[ann_id]


def test_memory_outside_scope_is_refused_and_drafting_goes_on(bench, monkeypatch, tmp_path) -> None:
    policy = permissive_policy(tmp_path / "p.yaml")
    policy.write_text(policy.read_text() + "scopes:\n  reply_draft: [model]\n")
    monkeypatch.setenv("OPSBENCH_POLICY", str(policy))
    mail = tmp_path / "mail"
    bench.materialize(batch_assets(), bench.intake([json_mail(mail, "a1", ANN, "Hi", "Help me?")]))
    bench.materialize(outcome_assets())
    key = bench.intake([json_mail(mail, "a2", ANN, "Hi again", "Help me, please?")])
    bench.materialize(batch_assets(), key)
    (item,) = bench.store.items(batch=key)
    assert item["state"] == "approved"  # drafted, reviewed, passed the gate
    assert bench.store.memory_context(item["id"], "reply_draft") is None
    refused = bench.store.audit_for_event("scope_refused")
    assert any(r["detail"] == {"agent": "reply_draft", "scope": "memory:read"} for r in refused)


def test_embedder_down_drafts_without_memory_visibly(bench, monkeypatch, tmp_path) -> None:
    from resources.llm.local_server import free_port

    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    mail = tmp_path / "mail"
    bench.materialize(batch_assets(), bench.intake([json_mail(mail, "a1", ANN, "Hi", "Help?")]))
    bench.materialize(outcome_assets())
    # Memory was written with the hashing double; now its embeddings endpoint is down, and
    # its URL carries a key that must not land anywhere.
    canary = "sk-canary-embedder-" + "e" * 24
    monkeypatch.setenv("OPSBENCH_EMBEDDER", f"http://opsbench:{canary}@127.0.0.1:{free_port()}/v1")
    monkeypatch.setenv("OPSBENCH_EMBEDDING_MODEL", "hashing-384")
    key = bench.intake([json_mail(mail, "a2", ANN, "Hi again", "Help, please?")])
    assert bench.materialize(batch_assets(), key).success
    (item,) = bench.store.items(batch=key)
    assert item["state"] == "approved"  # drafted, reviewed, passed the gate
    assert bench.store.memory_context(item["id"], "reply_draft")["embedder"] == "unavailable"
    audits = bench.store.audit_for_event("memory_unavailable")
    assert audits and all(a["detail"] == {"reason": "embedder_unavailable"} for a in audits)
    files = [f for f in bench.home.root.rglob("*") if f.is_file()]
    assert files and not any(canary.encode() in f.read_bytes() for f in files)


def test_a_reply_addressed_elsewhere_carries_no_memory(bench, monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    vera = "vera.victim@gmail.com"
    mail = tmp_path / "mail"
    first = bench.intake([json_mail(mail, "v1", vera, "My order", "Deliver to 12 Zebra Lane.")])
    bench.materialize(batch_assets(), first)
    bench.materialize(outcome_assets())
    # Same From, but a Reply-To elsewhere on the same free-mail domain: anyone at all.
    hostile = tmp_path / "hostile.eml"
    hostile.write_bytes(
        b"From: Vera <vera.victim@gmail.com>\r\nReply-To: mallory.attacker@gmail.com\r\n"
        b"To: hello@northwind.example\r\nSubject: My order\r\nMessage-ID: <h1@gmail.com>\r\n"
        b"\r\nWhere is my order going? Please help.\r\n"
    )
    key = bench.intake([hostile])
    bench.materialize(batch_assets(), key)
    bench.materialize(outcome_assets())
    (item,) = bench.store.items(batch=key)
    (sent,) = bench.store.deliveries_for(item["id"])
    assert sent["destination"] == vera  # a free-mail Reply-To is anyone's: not followed
    assert not bench.store.audit_for_event("memory_withheld")  # her memory, to her

    # Within a company's own domain a Reply-To is followed, and then memory stays out.
    from ops_assets.agents.context import context_for

    colleague = {**_item("itm_x", "ann@annstudio.example"), "reply_to": "dora@annstudio.example"}
    memory = Memory(bench.home.memory, HashingEmbedder)
    context = context_for(
        bench.store, memory, colleague, "reply_draft", budget=600, top_k=8, run_id="r"
    )
    assert context.rows == [] and bench.store.audit_for_event("memory_withheld")


def test_broken_memory_never_stops_drafting(bench, monkeypatch, tmp_path) -> None:
    """A table LanceDB cannot search (here: one from before vectors) means drafts without
    memory, audited, never items stuck in flight."""
    import lancedb

    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    lancedb.connect(str(bench.home.memory)).create_table(
        EPISODIC,
        data=[
            {
                "row_id": "old:item",
                "item_id": "old",
                "contact": "ann@annstudio.example",
                "text": "x",
            }
        ],
    )
    key = bench.intake([json_mail(tmp_path / "m", "a1", ANN, "Hi", "Help me, please?")])
    assert bench.materialize(batch_assets(), key).success
    (item,) = bench.store.items(batch=key)
    assert item["state"] == "approved"
    audits = bench.store.audit_for_event("memory_unavailable")  # the drafter's, the reviewer's
    assert [a["detail"] for a in audits] == [{"reason": "memory_error"}] * 2


def test_memory_broken_after_the_choice_never_stops_a_rerun(bench, monkeypatch, tmp_path) -> None:
    import shutil

    monkeypatch.setenv("OPSBENCH_POLICY", str(permissive_policy(tmp_path / "p.yaml")))
    mail = tmp_path / "mail"
    bench.materialize(batch_assets(), bench.intake([json_mail(mail, "a1", ANN, "Hi", "Help?")]))
    bench.materialize(outcome_assets())
    key = bench.intake([json_mail(mail, "a2", ANN, "Hi again", "Help, please?")])
    bench.materialize(batch_assets(), key)
    (item,) = bench.store.items(batch=key)
    assert bench.store.memory_context(item["id"], "reply_draft")["row_ids"]
    for data in bench.home.memory.glob("*.lance/data"):
        shutil.rmtree(data)  # the files behind the recorded rows are gone
    assert bench.materialize(batch_assets(), key).success
    assert bench.store.audit_for_event("memory_unavailable")
