"""The headless runner (`opsbench demo`) trains a new home's triage classifier before its
first triage, as the daemon's retrain sensor does: without it every mail past the rules would
cost a model call, and the cascade's cheap stage would never run in a demo."""

from support import drop, json_mail

from ops_assets.defs.jobs import BATCH_JOB, RETRAIN_JOB
from ops_assets.defs.triage.classifier import default_path
from opsbench.headless import HeadlessRunner


def _mail(tmp_path) -> list:
    return [
        json_mail(
            tmp_path / "mail",
            f"login-{n}",
            f"client{n}@client{n}.example",
            f"Login broken #{n}",
            f"Hello, I cannot log in to the admin page of our website since the update ({n}).",
        )
        for n in range(3)
    ]


def test_the_first_demo_trains_the_classifier_before_the_first_triage(bench, tmp_path) -> None:
    assert not default_path(bench.home.root).exists()
    drop(bench.home.inbox, _mail(tmp_path))
    runner = HeadlessRunner(bench.home, bench.store, log=lambda _m: None)
    outcome = runner.run_until_rested(timeout_s=180)
    assert outcome.rested and outcome.failed_runs == 0
    assert default_path(bench.home.root).exists()

    runs = sorted(runner.instance.get_runs(), key=lambda r: r.run_id)
    jobs_in_order = [
        r.job_name
        for r in sorted(
            runs, key=lambda r: runner.instance.get_run_record_by_id(r.run_id).create_timestamp
        )
    ]
    assert RETRAIN_JOB in jobs_in_order and BATCH_JOB in jobs_in_order
    assert jobs_in_order.index(RETRAIN_JOB) < jobs_in_order.index(BATCH_JOB)
    # The triage of the first batch read that classifier: a version, not "none".
    triaged = [bench.store.get_output(i["id"], "triage") for i in bench.store.items()]
    assert triaged and all(row is not None for row in triaged)
    assert all(row["output"]["stage"] in ("classifier", "model") for row in triaged)

    # A second pass trains nothing again: no new labels, the classifier is there.
    before = len(runner.instance.get_runs())
    assert runner.run_until_rested(timeout_s=60).rested
    assert len(runner.instance.get_runs()) == before
