"""The operator's privacy verbs: `opsbench export --contact EMAIL` (everything known about a
contact, as JSON) and `opsbench erase --contact EMAIL` (remove it from memory, the store's
payloads, the call ledger's prompts and answers, outbox and sandbox copies, quarantine and
intake originals, then compact every SQLite file). The audit log keeps one `erased` record
with counts — what was erased, never what it said."""

from pathlib import Path
from typing import Any

from ops_assets.home import Home
from resources.memory import EPISODIC, FACTS, Memory, quote
from resources.store import Store


def export(home: Home, store: Store, email: str) -> dict[str, Any]:
    memory = Memory(home.memory)  # reading rows needs no embedder
    items = store.items_of_contact(email)
    ids = [i["id"] for i in items]
    address = email.lower()
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
        "memory": memory.rows(
            EPISODIC, f"contact = {quote(address)} OR item_id IN ({_listed(ids)})"
        ),
        "facts": memory.rows(
            FACTS, f"contact = {quote(address)} OR array_has_any(source_items, [{_listed(ids)}])"
        ),
    }


def _listed(ids: list[str]) -> str:
    return ", ".join(quote(i) for i in ids) or "''"


def erase(home: Home, store: Store, email: str) -> dict[str, Any]:
    items = store.items_of_contact(email)
    ids = [i["id"] for i in items]
    deliveries = [d["id"] for i in ids for d in store.deliveries_for(i)]
    texts = _needles(email, items)
    files = _erase_files(home, ids, deliveries, items, texts)
    memory_rows = Memory(home.memory).forget(contact=email, item_ids=ids)
    counts = store.erase_items(ids, email)
    files += _erase_logs(home, texts)
    _compact_dagster(home)
    return {
        "items": len(ids),
        "store_rows": counts,
        "memory_rows": sum(memory_rows.values()),
        "memory": memory_rows,
        "files": files,
        "still_found": [str(p.relative_to(home.root)) for p in find(home, texts)],
    }


def _needles(email: str, items: list[dict[str, Any]]) -> list[bytes]:
    """What must be gone afterwards: the address, and a stretch of every message text."""
    needles = [email.lower().encode()]
    for item in items:
        body = " ".join((item.get("body") or "").split())
        if len(body) >= 24:
            needles.append(body[:40].lower().encode())
    return needles


def find(home: Home, needles: list[bytes]) -> list[Path]:
    """Files under the home that still contain any needle (case-insensitive)."""
    hits = []
    for path in home.root.rglob("*"):
        if path.is_file():
            try:
                data = path.read_bytes().lower()
            except OSError:
                continue
            if any(n in data for n in needles):
                hits.append(path)
    return hits


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
    return [
        p
        for p in folder.rglob("*")
        if p.is_file() and any(n in p.read_bytes().lower() for n in needles)
    ]


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
