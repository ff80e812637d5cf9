"""The embedded model server: llama.cpp's OpenAI-compatible server (xllamacpp), one per home.

It runs as a child process with its own log file under the home. Its URL goes to
`<home>/llm.url` and its pid to `<home>/llm.pid`; Dagster run workers only read the URL and
never start a server. A server left behind by a crash is detected (dead pid, or a pid that no
longer answers) and replaced.
"""

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from resources.processes import pid_alive, stop_group
from resources.settings.home import Home
from resources.web.keys import SERVER_KEY, home_key, home_key_path

READY_TIMEOUT_S = 120.0
LLM_MODULE = "resources.llm.local_server"


class LocalServerError(Exception):
    """The local model server could not be started or did not become ready."""


@dataclass
class LocalServer:
    url: str
    pid: int
    started: bool  # False when an already-running healthy server was reused
    process: subprocess.Popen[bytes] | None = None  # kept so the child is reaped, not leaked
    module: str = LLM_MODULE

    def stop(self) -> None:
        stop_pid(self.pid, module=self.module)
        if self.process is not None:
            self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Does the server at `url` answer /health with 200 (a 503 while it loads is a no)? One
    probe: the callers poll. Never through a proxy: these servers are on this machine."""
    base = url.removesuffix("/v1")
    try:
        # httpx reads the answer and closes its socket whatever the status.
        response = httpx.get(f"{base}/health", timeout=timeout, trust_env=False)
    except (httpx.HTTPError, httpx.InvalidURL, ValueError):
        return False
    return response.status_code == 200


def _alive(pid: int, module: str = LLM_MODULE) -> bool:
    """Alive and still our server (a recycled pid belongs to someone else)."""
    if not pid_alive(pid):
        return False
    cmdline = Path(f"/proc/{pid}/cmdline")
    return not cmdline.exists() or module.encode() in cmdline.read_bytes()


def _owner_alive(owner_file: Path) -> bool:
    """Is the command that started (or adopted) this server still running?"""
    try:
        owner = int(owner_file.read_text().strip() or 0)
    except (OSError, ValueError):
        return False
    return owner == os.getpid() or (owner > 0 and pid_alive(owner))


def stop_pid(pid: int, grace_s: float = 5.0, module: str = LLM_MODULE) -> None:
    stop_group(pid, lambda: _alive(pid, module), grace_s)


def ensure_server(
    home: Home,
    model: Path,
    *,
    threads: int = 2,
    log=lambda m: print(m, file=sys.stderr, flush=True),
) -> LocalServer:  # type: ignore[no-untyped-def]
    """Reuse this home's healthy model server, or replace a stale one with a fresh child."""
    return ensure_child_server(
        home,
        name="llm",
        module=LLM_MODULE,
        args=["--model", str(model), "--threads", str(threads)],
        what="local model server",
        log=log,
    )


def ensure_child_server(
    home: Home,
    *,
    name: str,
    module: str,
    args: list[str],
    what: str,
    log=lambda m: print(m, file=sys.stderr, flush=True),
) -> LocalServer:  # type: ignore[no-untyped-def]
    """One server per home, run as `python -m MODULE --port P ARGS`: its URL in
    `<home>/NAME.url`, its pid in `<home>/NAME.pid`, its log in `<home>/logs/NAME-server.log`.
    A healthy one is reused; a stale one (dead, or not answering) is replaced. The server
    demands the home's key (`<home>/secrets/servers.key`, read from a file, never from the
    command line) on every request but /health: a web page cannot use it."""
    url_file, pid_file = home.root / f"{name}.url", home.root / f"{name}.pid"
    owner_file = home.root / f"{name}.owner"
    if url_file.exists() and pid_file.exists():
        url, pid = url_file.read_text().strip(), int(pid_file.read_text().strip() or 0)
        if pid and _alive(pid, module) and healthy(url):
            if _owner_alive(owner_file):
                return LocalServer(url, pid, started=False, module=module)
            # Its owner was killed (a SIGKILLed `demo` or `run`): adopt it, so this command
            # stops it when it ends instead of leaving gigabytes running for ever.
            owner_file.write_text(str(os.getpid()))
            log(f"adopting a {what} left by a killed command (pid {pid})")
            return LocalServer(url, pid, started=True, module=module)
        log(f"replacing a stale {what} (pid {pid})")
        if pid:
            stop_pid(pid, module=module)
    url_file.unlink(missing_ok=True)
    port = free_port()
    logs = home.root / "logs"
    logs.mkdir(exist_ok=True)
    log_path = logs / f"{name}-server.log"
    home_key(home.root, SERVER_KEY)
    key_file = str(home_key_path(home.root, SERVER_KEY))
    with log_path.open("ab") as log_file:
        child = subprocess.Popen(  # noqa: S603 (our own interpreter and arguments, no shell)
            [sys.executable, "-m", module, "--port", str(port), "--key-file", key_file, *args],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )
    pid_file.write_text(str(child.pid))  # at once: a crash while it loads can be cleaned up
    owner_file.write_text(str(os.getpid()))
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + READY_TIMEOUT_S
    try:
        while not healthy(url):
            if child.poll() is not None or time.monotonic() > deadline:
                raise LocalServerError(f"the {what} did not start; see {log_path}")
            time.sleep(0.25)
    except BaseException:  # Ctrl-C included: never leave a server of gigabytes behind
        stop_pid(child.pid, module=module)
        child.wait()
        pid_file.unlink(missing_ok=True)
        raise
    url_file.write_text(url)
    log(f"{what} ready at {url} (pid {child.pid}, log {log_path})")
    return LocalServer(url, child.pid, started=True, process=child, module=module)


def serve(model: Path, port: int, threads: int, key_file: Path) -> None:
    import xllamacpp

    params = xllamacpp.CommonParams()
    params.model.path = str(model)
    params.n_ctx = 4096
    params.port = port
    params.cpuparams.n_threads = threads
    params.cpuparams_batch.n_threads = threads
    params.n_parallel = 1
    params.use_jinja = True  # the GGUF's own chat template
    # llama.cpp's server checks no Host or Origin; its key keeps every page out (401).
    params.api_keys = [key_file.read_text().strip()]
    server = xllamacpp.Server(params)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    while not stop:
        time.sleep(0.5)
    del server


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--model", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--key-file", type=Path, required=True)
    args = parser.parse_args()
    serve(args.model, args.port, args.threads, args.key_file)
