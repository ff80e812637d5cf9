"""`opsbench run`: the live workbench — the local model server, the Dagster daemon (sensors on)
and the webserver on 127.0.0.1, as children that Ctrl-C stops together."""

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import httpx

from resources.processes import stop_group
from resources.settings.home import REPO_ROOT, Home

if TYPE_CHECKING:
    from resources.llm.local_server import LocalServer
    from resources.store import Store

WORKSPACE = REPO_ROOT / "workspace.yaml"
SAMPLE_INBOX = REPO_ROOT / "samples" / "inbox"
OUR_SERVERS = (b"dagster", b"opsbench.ui_server", b"sensors.imap_idle")


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _default_signals() -> None:
    # A non-interactive parent may leave SIGINT ignored; Dagster would then never stop.
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def start_child(command: list[str], log_file: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """A child in its own process group (so its own children stop with it)."""
    with log_file.open("ab") as handle:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(  # noqa: S603 (our own interpreter and arguments, no shell)
            command,
            stdin=subprocess.DEVNULL,
            stdout=handle,
            stderr=handle,
            env=env,
            cwd=REPO_ROOT,
            start_new_session=True,
            preexec_fn=_default_signals,
        )


def stop_children(children: list[subprocess.Popen[bytes]], grace_s: float = 10.0) -> None:
    for child in children:
        stop_group(child.pid, lambda child=child: child.poll() is None, grace_s)  # type: ignore[misc]
        child.wait()


def stop_leftovers(pids_file: Path) -> None:
    """Dagster processes a killed `opsbench run` left behind (they would hold the port)."""
    if not pids_file.exists():
        return
    for line in pids_file.read_text().split():
        pid = int(line) if line.isdigit() else 0
        cmdline = Path(f"/proc/{pid}/cmdline")
        if pid and cmdline.exists() and any(m in cmdline.read_bytes() for m in OUR_SERVERS):
            _log(f"stopping a Dagster process left by an earlier run (pid {pid})")
            stop_group(pid, cmdline.exists, 10.0)
    pids_file.unlink(missing_ok=True)


def wait_http(
    url: str,
    timeout_s: float,
    alive: Callable[[], bool] = lambda: True,
    headers: dict[str, str] | None = None,
) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and alive():
        try:
            # A local server: never through a proxy; httpx closes the answer's socket itself.
            response = httpx.get(url, headers=headers or {}, timeout=2, trust_env=False)
            if response.status_code == 200:
                return True
        except httpx.HTTPError:
            pass  # not up yet
        time.sleep(0.5)
    return False


def fail_runs_left_by_a_crash(home: Home) -> None:
    """Nothing of this home runs before the daemon starts: every unfinished run was killed
    (a SIGKILL of the tree, a power cut), so its locks, pool slots and batch move on."""
    import dagster as dg

    from sensors.orphans import fail_orphaned_runs

    with dg.DagsterInstance.from_config(str(home.dagster)) as instance:
        failed = fail_orphaned_runs(instance, start_timeout_s=0)
    if failed:
        _log(f"{len(failed)} run(s) left unfinished by a crash marked failed; their work resumes")


def dagster_env(home: Home) -> dict[str, str]:
    """The environment of the Dagster processes of this home, whose instance storage exists
    by then: a daemon and a webserver started together on a new home would race to create it
    (`alembic_version already exists`) and one of them would never load the code."""
    import dagster as dg

    dg.DagsterInstance.from_config(str(home.dagster)).dispose()
    env = dict(os.environ)
    env.update(
        {
            "DAGSTER_HOME": str(home.dagster),
            "OPSBENCH_HOME": str(home.root),
            "GX_ANALYTICS_ENABLED": "False",
            "HF_HUB_OFFLINE": "1",
            "DAGSTER_DISABLE_TELEMETRY": "1",
        }
    )
    return env


def dagster_commands(port: int) -> dict[str, list[str]]:
    bin_dir = Path(sys.executable).parent
    return {
        "daemon": [str(bin_dir / "dagster-daemon"), "run", "-w", str(WORKSPACE)],
        # Dagster's UI behind the guard (Host, Origin, token, JSON-only GraphQL mutations).
        "webserver": [
            sys.executable,
            "-m",
            "opsbench.ui_server",
            "--port",
            str(port),
            "--workspace",
            str(WORKSPACE),
        ],
    }


def mail_watcher_command() -> list[str] | None:
    """The IMAP IDLE watcher (sensors/imap_idle.py), when an account asks for it: mail then
    arrives in about a second instead of at the inbox sensor's next poll."""
    from resources.settings import SettingsResource

    if not any(account.idle for account in SettingsResource().config().intake.imap):
        return None
    return [sys.executable, "-m", "sensors.imap_idle"]


def seed_new_home(home: Home, store_is_empty: bool) -> int:
    """Only a brand-new home gets the sample mail: never mix samples into real work."""
    marker = home.root / ".seeded"
    if marker.exists() or not store_is_empty or any(home.inbox.iterdir()):
        return 0
    count = 0
    for path in sorted(SAMPLE_INBOX.iterdir())[:8]:
        temp = home.inbox / f".copying-{time.time_ns()}"
        shutil.copy2(path, temp)
        os.replace(temp, home.inbox / path.name)
        count += 1
    marker.write_text("sample inbox copied in\n")
    return count


def start_embeddings(home: Home) -> "LocalServer | None":
    """The embedding server, when memory embeds with the embedded MiniLM: run workers then
    reach it by URL instead of importing torch in every run."""
    from resources.memory.embed_server import ensure_embed_server
    from resources.memory.embeddings import chosen_spec
    from resources.settings import SettingsResource

    if chosen_spec(SettingsResource().config().memory.embedder) != "local":
        return None
    return ensure_embed_server(home, log=_log)


def record_console_url(store: "Store", port: int) -> None:
    """The desk this run serves, for the digest's link when the config names none."""
    from ops_assets.observability.notifications import CONSOLE_CONTROL

    store.set_control(CONSOLE_CONTROL, f"http://127.0.0.1:{port}/desk", actor="workbench")


def run_workbench(home: Home, *, port: int, llm: str, seed: bool) -> int:
    from opsbench.ui_server import auth_headers, login_url
    from resources.store.resource import store_for

    # Started from a background job or a process manager, SIGINT may come in ignored; Ctrl-C
    # must still stop everything.
    signal.signal(signal.SIGINT, signal.default_int_handler)

    store = store_for(home.store_url)
    record_console_url(store, port)
    server = None
    if llm == "local":
        from opsbench.cli.model import prepare_weights
        from resources.llm.local_server import ensure_server

        server = ensure_server(home, prepare_weights(shown=sys.stderr.isatty()), log=_log)
    try:
        embeddings = start_embeddings(home)
    except BaseException:
        if server is not None and server.started:
            server.stop()
        raise
    env = dagster_env(home)
    env["OPSBENCH_LLM"] = llm
    logs = home.root / "logs"
    logs.mkdir(exist_ok=True)
    commands = dagster_commands(port)
    pids_file = home.root / "workbench.pids"
    stop_leftovers(pids_file)
    fail_runs_left_by_a_crash(home)
    watcher = mail_watcher_command()
    if watcher is not None:
        commands["mail_watcher"] = watcher
    children = [start_child(cmd, logs / f"{name}.log", env) for name, cmd in commands.items()]
    pids_file.write_text("\n".join(str(c.pid) for c in children))
    stopping: list[int] = []
    signal.signal(signal.SIGTERM, lambda *_: stopping.append(1))
    try:
        ui = f"http://127.0.0.1:{port}"
        up = wait_http(
            f"{ui}/server_info",
            120,
            lambda: all(c.poll() is None for c in children),
            headers=auth_headers(home),
        )
        if not up:
            _log(f"the Dagster webserver did not come up; see {logs}/webserver.log")
            return 1
        seeded = seed_new_home(home, not store.items()) if seed else 0
        _log(
            f"\nOpsbench is running.\n  UI:      {login_url(home, port)}\n"
            f"           (open this login link once; assets, runs, checks, sensors)\n"
            f"  inbox:   {home.inbox}  (drop .eml or .json files here"
            f"{f'; {seeded} sample mails copied in' if seeded else ''})\n"
            f"  outbox:  {home.outbox}\n  logs:    {logs}\n  model:   {llm}"
            f"{f' at {server.url}' if server else ''}\n"
            f"  memory:  {f'all-MiniLM-L6-v2 at {embeddings.url}' if embeddings else 'as set'}\n"
            f"  status:  opsbench items --home {home.root}\nCtrl-C stops everything.\n"
        )
        while not stopping and all(c.poll() is None for c in children):
            time.sleep(0.5)
        if not stopping:
            _log(f"a Dagster process exited; see {logs}")
            return 1
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C (or make passing the first one on) must not cut the shutdown short
        # and orphan the children, which live in sessions of their own.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        _log("stopping ...")
        stop_children(children)
        pids_file.unlink(missing_ok=True)
        for child in (server, embeddings):
            if child is not None and child.started:
                child.stop()
