"""Alerts: failed runs and failed checks, appended to `<home>/alerts/alerts.jsonl` (one JSON
object per line: ids, names and reason codes, never message text). The alert sensors write
them; `opsbench status` and the notebooks read them."""

import json
import os
from typing import Any

from resources.settings.home import Home
from resources.store import now_iso

FILE = "alerts.jsonl"


def write_alert(home: Home, kind: str, **fields: Any) -> dict[str, Any]:
    record = {"at": now_iso(), "kind": kind, **fields}
    home.alerts.mkdir(parents=True, exist_ok=True)
    # One write per line in append mode: concurrent writers never interleave within a line.
    with open(home.alerts / FILE, "a", encoding="utf-8") as handle:
        handle.write(json.dumps(record, sort_keys=True, default=str) + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    return record


def read_alerts(home: Home) -> list[dict[str, Any]]:
    path = home.alerts / FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
