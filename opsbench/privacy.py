"""The operator's privacy verbs: `opsbench export --contact EMAIL` (everything known about a
contact, as JSON) and `opsbench erase --contact EMAIL` (remove it from memory, the store's
payloads, the call ledger's prompts and answers, outbox and sandbox copies, quarantine and
intake originals, then compact every SQLite file). The audit log keeps one `erased` record
with counts — what was erased, never what it said.

An erase wins against delivery: its first act blocks every send to the address (a tombstone
holding only a hash of it, checked in the transaction that counts each attempt); then it waits
for (or refuses, after `wait_s`) a batch run working on their mail, and holds both the memory
writers' lock and the drain's lock while it deletes, so no send or memory write overlaps it."""

import os
import re
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ops_assets.agents.agent_run import lock_holder_gone
from ops_assets.defs.delivery.ledger import DRAIN_LOCK
from resources.memory import EPISODIC, FACTS, WRITE_LOCK, Memory, about
from resources.settings.home import Home
from resources.store import Store
from resources.store.states import BATCH_PENDING
from resources.store.store import stored_forms

if TYPE_CHECKING:
    import dagster as dg


def export(home: Home, store: Store, email: str) -> dict[str, Any]:
    memory = Memory(home.memory)  # reading rows needs no embedder
    items = store.items_of_contact(email)
    ids = [i["id"] for i in items]
    address = email.lower()
    theirs = about(email, ids)
    return {
        "contact": email,
        "crm": {
            "contacts": [c for c in store.contacts() if c["email"].lower() == address],
            "deals": [d for d in store.deals() if d["contact_email"].lower() == address],
        },
        "items": [
            {
                "item": item,
                "outputs": store.outputs_for(item["id"]),
                "model_calls": store.calls_for_item(item["id"]),
                "deliveries": store.deliveries_for(item["id"]),
                "approvals": store.approvals_for(item["id"]),
                "failures": store.failures(item_id=item["id"]),
                "audit": store.audit_for(item["id"]),
                "memory_context": store.memory_contexts([item["id"]]),
            }
            for item in items
        ],
        "memory": memory.rows(EPISODIC, theirs[EPISODIC]),
        "facts": memory.rows(FACTS, theirs[FACTS]),
    }


class EraseBlocked(Exception):
    """A run is writing memory, sending, or working on the contact's mail right now; erasing
    meanwhile could let it write rows back or send after the erase. Sends to the address stay
    blocked: try again once it has finished."""


def erase(home: Home, store: Store, email: str, *, wait_s: float = 60.0) -> dict[str, Any]:
    import dagster as dg

    # Before anything else: from this commit on no attempt to send to them is counted.
    store.delivery_block_contact(email)
    deadline = time.monotonic() + wait_s
    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        _wait_for_batch_runs(instance, store, email, deadline)
        gone = lock_holder_gone(instance)
        with (
            _held(store, WRITE_LOCK, gone, deadline, "a run is writing memory"),
            _held(store, DRAIN_LOCK, gone, deadline, "a delivery run is sending"),
        ):
            # Read under the locks: what the drain or a batch did meanwhile is included.
            items = store.items_of_contact(email)
            ids = [i["id"] for i in items]
            deliveries = [d["id"] for i in ids for d in store.deliveries_for(i)]
            forgotten = Memory(home.memory).forget(contact=email, item_ids=ids)
            texts = _needles(email, items, forgotten.texts)
            files = _erase_files(home, ids, deliveries, items, texts)
            # Other items' prompts may have carried their facts (company-wide memory): those
            # ledger rows quote them, and go too.
            quoting = [t.decode() for t in texts]
            counts = store.erase_items(ids, email, quoting=quoting)
    files += _erase_logs(home, texts)
    _compact_dagster(home)
    return {
        "items": len(ids),
        "store_rows": counts,
        "memory_rows": sum(forgotten.removed.values()),
        "memory": forgotten.removed,
        "shared_facts_kept": forgotten.kept_shared,
        "files": files,
        "still_found": [str(p.relative_to(home.root)) for p in find(home, texts)],
    }


def _wait_for_batch_runs(
    instance: "dg.DagsterInstance", store: Store, email: str, deadline: float
) -> None:
    """Their mail still being triaged or drafted by a live run: wait for it, or refuse (the
    run would write outputs for items the erase deleted). Once approved, the tombstone and
    the drain's lock take over."""
    import dagster as dg

    # Runs that may still act on an item: launched, starting, running, or being stopped.
    live_statuses = [
        dg.DagsterRunStatus.NOT_STARTED,
        dg.DagsterRunStatus.QUEUED,
        dg.DagsterRunStatus.STARTING,
        dg.DagsterRunStatus.STARTED,
        dg.DagsterRunStatus.CANCELING,
    ]
    while True:
        batches = {
            i["batch"]
            for i in store.items_of_contact(email)
            if i["state"] in BATCH_PENDING and i["batch"]
        }
        live = [
            run
            for run in (
                instance.get_runs(filters=dg.RunsFilter(statuses=live_statuses)) if batches else []
            )
            if batches & set(run.tags.values())
        ]
        if not live:
            return
        if time.monotonic() > deadline:
            raise EraseBlocked(
                f"{len(live)} run(s) are working on this contact's mail; try again when they "
                "have finished (or stop the workbench first)"
            )
        time.sleep(0.5)


@contextmanager
def _held(
    store: Store, name: str, gone: Callable[[str], bool], deadline: float, busy: str
) -> Iterator[None]:
    """Hold a store lock (the memory writers' or the drain's) for the erase, waiting for its
    holder until the deadline."""
    owner = f"erase-{os.getpid()}-{time.time_ns()}"
    while not store.acquire_lock(name, owner, gone):
        if time.monotonic() > deadline:
            raise EraseBlocked(
                f"{busy}; try again when it has finished (or stop the workbench first)"
            )
        time.sleep(0.5)
    try:
        yield
    finally:
        store.release_lock(name, owner)


def _needles(email: str, items: list[dict[str, Any]], facts: list[str]) -> list[bytes]:
    """What must be gone afterwards: the address, stretches of every message text, and the
    facts drawn only from them (all compared with whitespace collapsed). Not subjects: "Re:
    Invoice" is anyone's."""
    texts = [email, *facts]
    for item in items:
        body = " ".join((item.get("body") or "").split())
        texts += [body[:40], body[len(body) // 2 : len(body) // 2 + 40]]
    needles = {" ".join(t.lower().split()).encode() for t in texts}
    return sorted(n for n in needles if len(n) >= 16 or n == email.lower().encode())


def find(home: Home, needles: list[bytes]) -> list[Path]:
    """Files under the home that still contain any needle (case-insensitive, whitespace and
    JSON escapes collapsed, in the forms a JSON column stores)."""
    return find_in(home.root, needles)


def _erase_files(
    home: Home,
    ids: list[str],
    deliveries: list[str],
    items: list[dict[str, Any]],
    needles: list[bytes],
) -> int:
    removed = 0
    candidates = [Path(i["original_path"]) for i in items if i.get("original_path")]
    for folder in (home.outbox, home.root / "sandbox"):
        candidates += [p for p in folder.rglob("*") if p.is_file() and p.stem in deliveries]
    # Quarantined input has no parsed sender: find it by its bytes.
    for folder in (home.quarantine, home.originals):
        candidates += [p for p in find_in(folder, needles)]
    for path in set(candidates):
        for victim in (path, path.with_name(path.name + ".reason.json")):
            if victim.exists():
                victim.unlink()
                removed += 1
        # Intake keeps a mail's attachments beside its original, in <item>.attachments/.
        attachments = path.with_suffix(".attachments")
        if attachments.is_dir():
            removed += sum(1 for p in attachments.iterdir() if p.is_file())
            shutil.rmtree(attachments)
    return removed


def _erase_logs(home: Home, needles: list[bytes]) -> int:
    """Captured logs (Dagster's compute logs, the servers' and daemon's logs) carry ids and
    counts by design; one that quotes the contact anyway is deleted whole: a log is not a
    record, and a partial scrub could leave the text in a line we did not foresee."""
    removed = 0
    for folder in (home.root / "logs", home.dagster / "storage", home.dagster / "logs"):
        for path in find_in(folder, needles):
            if path.suffix not in (".db", ".sqlite"):
                path.unlink()
                removed += 1
    return removed


def find_in(folder: Path, needles: list[bytes]) -> list[Path]:
    if not folder.exists():
        return []
    forms = {form for n in needles for form in _forms(n)}
    hits = []
    for path in folder.rglob("*"):
        try:
            data = _collapsed(path.read_bytes()) if path.is_file() else b""
        except OSError:
            continue
        if any(form in data for form in forms):
            hits.append(path)
    return hits


def _collapsed(data: bytes) -> bytes:
    return re.sub(rb"(?:\\[nrt]|\s)+", b" ", data.lower())


def _forms(needle: bytes) -> set[bytes]:
    """The needle as the store may hold it (raw, or JSON-escaped), whitespace collapsed."""
    return {_collapsed(form.encode()) for form in stored_forms(needle.decode())}


def _compact_dagster(home: Home) -> None:
    """Dagster's SQLite files hold ids and counts only, but their free pages may hold older
    writes: compact them too."""
    import sqlite3

    for path in home.dagster.rglob("*.db"):
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn = sqlite3.connect(path, isolation_level=None)
        try:
            conn.execute("VACUUM")
        finally:
            conn.close()
