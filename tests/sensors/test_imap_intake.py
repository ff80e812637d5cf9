"""IMAP intake against a real Dovecot on 127.0.0.1 (tests/imap_server.py): every message
appended arrives as one item, across ticks, processes and a kill between register and flag;
the messages stay on the server, flagged \\Seen; a bad login is an alert, not a crash."""

import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
from imap_server import PASSWORD, PASSWORD_ENV, Dovecot, free_port, imap_config, message

from ops_assets.observability.alerts import read_alerts
from resources.settings.config import Config, load_config
from sensors.imap_intake import AFTER_REGISTER, imap_tick
from sensors.inbox import inbox_sensor


@pytest.fixture
def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    with Dovecot(tmp_path / "imap") as server:
        yield server


@pytest.fixture(autouse=True)
def _password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)


def _tick(bench, config: Path) -> int:
    return imap_tick(bench.store, bench.home, load_config(config)).registered


def _tick_in_new_process(bench, config: Path, **env: str) -> int:
    """A fresh process (a restarted daemon): its exit code."""
    script = textwrap.dedent(
        f"""
        from resources.settings.config import load_config
        from resources.settings.home import open_home
        from resources.store.resource import store_for
        from sensors.imap_intake import imap_tick

        home = open_home({str(bench.home.root)!r})
        imap_tick(store_for(home.store_url), home, load_config({str(config)!r}))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, **env},
        cwd=Path(__file__).parents[2],
        timeout=120,
        capture_output=True,
    )
    return done.returncode


def _by_message_id(bench) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for item in bench.store.items():
        found.setdefault(item["message_id"], []).append(item["state"])
    return found


def test_appended_messages_arrive_once_across_ticks_and_processes(bench, dovecot, tmp_path):
    config = imap_config(tmp_path, dovecot.port)
    dovecot.append(message(1))
    dovecot.append(message(2))
    assert _tick(bench, config) == 2
    assert _tick(bench, config) == 0
    dovecot.append(message(3))
    assert _tick_in_new_process(bench, config) == 0
    assert _tick(bench, config) == 0
    assert _by_message_id(bench) == {f"<q{n}@client.example>": ["received"] for n in (1, 2, 3)}
    (item,) = [i for i in bench.store.items() if i["message_id"] == "<q1@client.example>"]
    assert (item["sender"], item["subject"]) == ("kim@client.example", "Question 1")
    assert Path(item["original_path"]).read_bytes() == message(1)
    flags = dovecot.flags()
    assert sorted(flags) == [f"<q{n}@client.example>" for n in (1, 2, 3)]  # none deleted
    assert all("\\Seen" in f and "\\Deleted" not in f for f in flags.values())


def test_a_kill_between_register_and_flag_leaves_one_item_per_message(bench, dovecot, tmp_path):
    config = imap_config(tmp_path, dovecot.port)
    dovecot.append(message(1))
    dovecot.append(message(2))
    assert _tick_in_new_process(bench, config, OPSBENCH_FAILPOINT=AFTER_REGISTER) == -9
    assert len(bench.store.items()) == 2  # registered before the kill
    assert not any("\\Seen" in f for f in dovecot.flags().values())  # but not flagged
    assert _tick_in_new_process(bench, config) == 0
    assert _by_message_id(bench) == {f"<q{n}@client.example>": ["received"] for n in (1, 2)}
    assert all("\\Seen" in f for f in dovecot.flags().values())
    assert not list(bench.home.claimed.iterdir())  # no staged copy left behind


def test_a_wrong_password_is_an_alert_with_a_backoff_not_a_crash(
    bench, dovecot, tmp_path, monkeypatch
):
    monkeypatch.setenv(PASSWORD_ENV, "not-the-password")
    config = imap_config(tmp_path, dovecot.port)
    dovecot.append(message(1))
    assert _tick(bench, config) == 0
    assert _tick(bench, config) == 0  # within the backoff: not tried, not alerted again
    (alert,) = [a for a in read_alerts(bench.home) if a["kind"] == "imap_unavailable"]
    assert (alert["account"], alert["reason_code"]) == ("work", "login_failed")
    assert "not-the-password" not in (bench.home.alerts / "alerts.jsonl").read_text()
    assert bench.store.items() == []

    # The password fixed, the account is read once the backoff has passed.
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)
    later = imap_tick(bench.store, bench.home, load_config(config), now=10**10)
    assert later.registered == 1


def test_an_unreachable_server_is_retried_then_alerted(bench, tmp_path):
    config = imap_config(tmp_path, free_port())  # nothing listens there
    assert _tick(bench, config) == 0
    (alert,) = read_alerts(bench.home)
    assert (alert["kind"], alert["reason_code"]) == ("imap_unavailable", "connect_failed")


def test_a_uidvalidity_change_rereads_the_folder_without_duplicates(bench, dovecot, tmp_path):
    dovecot.create("Work")
    config = imap_config(tmp_path, dovecot.port, folders=["Work"])
    dovecot.append(message(1), "Work")
    dovecot.append(message(2), "Work")
    assert _tick(bench, config) == 2
    # The folder is recreated (a restored backup, a migrated server): new UIDVALIDITY, UIDs
    # from 1 again. The new message gets UID 1, below the last UID taken before.
    dovecot.recreate("Work")
    dovecot.append(message(3), "Work")
    dovecot.append(message(1), "Work")
    assert _tick(bench, config) == 1
    assert _by_message_id(bench) == {f"<q{n}@client.example>": ["received"] for n in (1, 2, 3)}


def test_taken_messages_can_be_moved_to_a_folder(bench, dovecot, tmp_path):
    dovecot.create("Taken")
    config = imap_config(tmp_path, dovecot.port, move_to="Taken")
    dovecot.append(message(1))
    assert _tick(bench, config) == 1
    assert dovecot.flags() == {}
    (flags,) = dovecot.flags("Taken").values()
    assert "\\Seen" in flags


def test_the_inbox_sensor_reads_the_accounts(bench, dovecot, tmp_path, monkeypatch):
    monkeypatch.setenv("OPSBENCH_CONFIG", str(imap_config(tmp_path, dovecot.port)))
    dovecot.append(message(1))
    with dg.build_sensor_context(instance=bench.instance, resources=bench.resources) as context:
        result = inbox_sensor(context)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests
    (item,) = bench.store.items(batch=request.partition_key)
    assert item["message_id"] == "<q1@client.example>"


def test_plaintext_login_is_refused_for_a_remote_host(tmp_path):
    with pytest.raises(Exception, match="tls: none"):
        load_config(imap_config(tmp_path, 143, host="mail.example.com"))
    assert isinstance(load_config(imap_config(tmp_path, 143)), Config)


def test_a_missing_password_variable_or_a_failing_store_is_an_alert(
    bench, dovecot, tmp_path, monkeypatch
):
    config = imap_config(tmp_path, dovecot.port)
    dovecot.append(message(1))
    monkeypatch.delenv(PASSWORD_ENV)
    assert _tick(bench, config) == 0
    monkeypatch.setenv(PASSWORD_ENV, PASSWORD)

    def store_down(*args: object, **kwargs: object) -> None:
        raise OSError("database is locked")

    monkeypatch.setattr(bench.store, "control", store_down)
    assert _tick(bench, config) == 0  # does not raise
    codes = [a["reason_code"] for a in read_alerts(bench.home) if a["kind"] == "imap_unavailable"]
    assert codes == ["password_missing", "intake_error"]
    assert not any("\\Seen" in f for f in dovecot.flags().values())  # left for a later tick
