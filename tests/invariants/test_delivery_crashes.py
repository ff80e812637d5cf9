"""Exactly-once delivery under SIGKILL: a process killed at each transition of the ledger
(after the attempt is counted, after the send before the record, after the receipt) and
restarted leaves zero duplicates and zero losses — against a real SMTP server and a real
webhook receiver on 127.0.0.1, through the whole `opsbench demo`. SMTP cannot dedupe, so an
attempt without a receipt waits for the owner. (Every failpoint of the drain, and two drains
in two processes at once: test_delivery_failpoints.py.)"""

import os
import subprocess
from pathlib import Path

import pytest
from support import OPSBENCH, SAMPLES, HookServer, SmtpSink, permissive_policy, write_config

from resources.settings.home import open_home
from resources.store import Store

pytestmark = pytest.mark.slow

POINTS = ("after_attempt", "after_send", "after_receipt")
ARGS = ["--llm", "scripted", "--timeout", "120"]


def _demo(tmp_path: Path, config: Path, inbox: Path, **env: str) -> int:
    policy = permissive_policy(tmp_path / "policy.yaml")
    where = ["--home", str(tmp_path / "home"), "--config", str(config)]
    done = subprocess.run(
        [*OPSBENCH, "demo", "--inbox", str(inbox), *where, *ARGS],
        env={**os.environ, "OPSBENCH_POLICY": str(policy), **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode in (0, -9), done.stderr[-3000:]
    return done.returncode


def _crash_then_restart(tmp_path: Path, config: Path, failpoint: str) -> Store:
    empty = tmp_path / "empty"
    empty.mkdir()
    assert _demo(tmp_path, config, SAMPLES, OPSBENCH_FAILPOINT=failpoint) == -9  # killed
    assert _demo(tmp_path, config, empty) == 0  # restarted: every item rests
    return Store(open_home(tmp_path / "home").store_url)


@pytest.mark.parametrize("point", POINTS)
def test_smtp_killed_at_each_transition_sends_nothing_twice_and_loses_nothing(
    tmp_path, point
) -> None:
    with SmtpSink() as sink:
        config = write_config(
            tmp_path / "config.yaml",
            smtp={"enabled": True, "port": sink.port, "rate_per_minute": None},
        )
        store = _crash_then_restart(tmp_path, config, f"delivery:{point}:smtp")
        sent = sink.message_ids()

    assert all(count == 1 for count in sent.values()), sent  # zero duplicates
    replies = [i for i in store.items() if i["route"] == "reply_draft"]
    delivered = [i for i in replies if i["state"] == "delivered"]
    held = [i for i in replies if i["state"] != "delivered"]
    if point == "after_receipt":
        # The receipt was recorded: the restart only confirms it.
        assert held == [] and len(sent) == len(delivered) == len(replies)
    else:
        # An attempt without a receipt: never resent, the owner decides (zero losses).
        (unsure,) = held
        assert (unsure["state"], unsure["reason_code"]) == (
            "awaiting_human",
            "delivery_unconfirmed",
        )
        assert "may have arrived" in unsure["reason"]
        assert len(sent) == len(delivered) + (point == "after_send")
    for item in delivered:
        (row,) = store.deliveries_for(item["id"])
        assert row["state"] == "confirmed" and f"<{row['id']}@" in str(list(sent))


@pytest.mark.parametrize("point", POINTS)
def test_webhook_killed_at_each_transition_has_exactly_one_effect(tmp_path, point) -> None:
    with HookServer() as hook:
        config = write_config(tmp_path / "config.yaml", webhook={"url": hook.url})
        store = _crash_then_restart(tmp_path, config, f"delivery:{point}:webhook")
        effects, requests = dict(hook.effects), dict(hook.requests)

    delivered = store.items(states=["delivered"])
    pushes = [d for d in store.all_deliveries() if d["purpose"] == "outcome"]
    assert delivered and len(pushes) == len(delivered)
    assert all(d["state"] == "confirmed" for d in pushes)  # zero losses
    assert set(effects) == {d["id"] for d in pushes}
    assert all(count == 1 for count in effects.values())  # exactly one effect per key
    # The far side dedupes, so the restart may repeat a request it already took.
    assert sum(requests.values()) == len(pushes) + (point == "after_send")
