"""The inbox sensor and the intake it drives: claiming, batching, quarantine, duplicates."""

import os
import time
from concurrent.futures import ProcessPoolExecutor

import dagster as dg
from support import SAMPLES, drop

from ops_assets.orchestration.partitions import BATCHES
from resources.settings.config import load_config
from resources.settings.home import open_home
from resources.store.resource import store_for
from sensors.inbox import inbox_sensor
from sensors.intake import claim, tick


def _evaluate(bench) -> dg.SensorResult | dg.SkipReason:
    with dg.build_sensor_context(instance=bench.instance, resources=bench.resources) as context:
        return inbox_sensor(context)


def test_a_tick_claims_registers_and_requests_one_run_per_batch(bench) -> None:
    drop(bench.home.inbox, sorted(SAMPLES.iterdir()))
    result = _evaluate(bench)
    assert isinstance(result, dg.SensorResult)
    (request,) = result.run_requests
    (partitions,) = result.dynamic_partitions_requests
    assert partitions.partitions_def_name == BATCHES
    assert list(partitions.partition_keys) == [request.partition_key]
    assert request.partition_key.startswith("intake-")
    assert request.run_key == f"{request.partition_key}#0"
    assert not list(bench.home.inbox.iterdir())
    assert len(bench.store.items(batch=request.partition_key)) == len(list(SAMPLES.iterdir()))

    # The batch still has work: the next tick asks again under the same run key (Dagster
    # launches it once) and adds no partition twice.
    bench.instance.add_dynamic_partitions(BATCHES, [request.partition_key])
    again = _evaluate(bench)
    assert [r.run_key for r in again.run_requests] == [request.run_key]
    assert not again.dynamic_partitions_requests


def test_unfinished_hidden_and_temp_files_are_left_alone(bench) -> None:
    inbox = bench.home.inbox
    (inbox / ".hidden.eml").write_text("From: a@b.example\n\nhi")
    (inbox / "half.eml.tmp").write_text("From: a@b.example\n\nhi")
    (inbox / "fresh.eml").write_text("From: a@b.example\nSubject: hi\n\nstill being written")
    result = _evaluate(bench)
    assert isinstance(result, dg.SkipReason)
    assert sorted(p.name for p in inbox.iterdir()) == [".hidden.eml", "fresh.eml", "half.eml.tmp"]
    assert bench.store.items() == []


def test_a_small_batch_waits_for_max_wait_then_goes(bench) -> None:
    config = load_config()
    path = bench.home.inbox / "one.eml"
    path.write_text("From: jo@client.example\nSubject: help\nMessage-ID: <1@x>\n\nlogin broken")
    now = time.time()
    os.utime(path, (now - config.intake.settle_s - 0.1,) * 2)
    waiting = tick(bench.store, bench.home, config, now=now)
    assert waiting.waiting == 1 and not waiting.batches
    later = tick(bench.store, bench.home, config, now=now + config.batching.max_wait_s + 1)
    assert len(later.batches) == 1


def test_batches_are_bounded_by_max_items(bench, tmp_path) -> None:
    config_file = tmp_path / "small.yaml"
    text = (SAMPLES.parent.parent / "resources" / "settings" / "sample_config.yaml").read_text()
    config_file.write_text(text.replace("max_items: 25", "max_items: 3"))
    config = load_config(config_file)
    drop(bench.home.inbox, sorted(SAMPLES.iterdir()))
    result = tick(bench.store, bench.home, config)
    sizes = [len(bench.store.items(batch=b)) for b in result.batches]
    assert max(sizes) == 3 and sum(sizes) == len(list(SAMPLES.iterdir()))


def test_a_crash_between_claim_and_register_is_replayed_once(bench) -> None:
    drop(bench.home.inbox, sorted(SAMPLES.iterdir())[:2])
    claimed = [claim(p, bench.home.claimed) for p in sorted(bench.home.inbox.iterdir())]
    assert all(claimed)  # claimed, then the process "died" before registering
    assert tick(bench.store, bench.home, load_config()).registered == 0  # maybe still busy
    later = time.time() + 60
    first = tick(bench.store, bench.home, load_config(), now=later)
    assert first.registered == 2
    assert not list(bench.home.claimed.iterdir())
    assert tick(bench.store, bench.home, load_config(), now=later).registered == 0
    assert len(bench.store.items()) == 2


def _claim_all(home_dir: str) -> int:
    home = open_home(home_dir)
    store = store_for(home.store_url)
    total = 0
    for _ in range(5):
        total += tick(store, home, load_config()).registered
    return total


def test_two_processes_never_take_one_file(bench) -> None:
    copies = []
    for n in range(40):
        path = bench.home.inbox / f"m{n:02d}.eml"
        path.write_text(
            f"From: c{n}@client.example\nSubject: q {n}\nMessage-ID: <{n}@x>\n\nquestion number {n}"
        )
        os.utime(path, (time.time() - 60,) * 2)
        copies.append(path)
    with ProcessPoolExecutor(2) as pool:
        counts = list(pool.map(_claim_all, [str(bench.home.root)] * 2))
    assert sum(counts) == 40
    items = bench.store.items()
    assert len(items) == 40 and len({i["source"] for i in items}) == 40


def test_a_file_that_cannot_be_claimed_never_blocks_the_ones_behind_it(bench, monkeypatch) -> None:
    inbox = bench.home.inbox
    long_name = "x" * 230 + ".eml"  # legal here, too long once the claim prefix is added
    for name in (long_name, "stuck.eml", "ok.eml"):
        (inbox / name).write_text(
            f"From: a@client.example\nSubject: {name[:20]}\n"
            f"Message-ID: <{name[:20]}@x>\n\nhello {name[:20]}"
        )
        os.utime(inbox / name, (time.time() - 60,) * 2)
    real_rename = os.rename

    def refuse_one(source, target):
        if str(source).endswith("stuck.eml"):
            raise PermissionError(13, "Permission denied")
        return real_rename(source, target)

    monkeypatch.setattr("sensors.intake.os.rename", refuse_one)
    result = tick(bench.store, bench.home, load_config())
    assert result.registered == 2
    sources = sorted(i["source"] for i in bench.store.items())
    assert "ok.eml" in sources and any(s.startswith("x" * 80) for s in sources)
    assert [p.name for p in inbox.iterdir()] == ["stuck.eml"]  # left for a later tick
