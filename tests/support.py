"""Shared test helpers (importable: pytest puts tests/ on sys.path)."""

import os
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SAMPLES = REPO / "samples" / "inbox"
HOSTILE = REPO / "tests" / "data" / "hostile_inbox"
OPSBENCH = [sys.executable, "-m", "opsbench.cli"]


def drop(folder: Path, files: list[Path], *, age_s: float = 60.0) -> None:
    """Put files into an inbox as finished files (old enough to be claimed at once)."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        target = folder / path.name
        shutil.copyfile(path, target)
        old = target.stat().st_mtime - age_s
        os.utime(target, (old, old))


# Every secret the project reads from the environment.
CANARIES = {
    "OPSBENCH_API_KEY": "sk-canary-opsbench-" + "a" * 24,
    "OPENAI_API_KEY": "sk-canary-openai-" + "b" * 24,
    "OPSBENCH_SMTP_PASSWORD": "canary-smtp-" + "c" * 24,
    "OPSBENCH_WEBHOOK_SECRET": "canary-webhook-" + "d" * 24,
}


def assert_no_canary(root, extra_text: str = "") -> None:
    for canary in CANARIES.values():
        assert canary not in extra_text
        for path in root.rglob("*"):
            if path.is_file():
                assert canary.encode() not in path.read_bytes(), path


def batch_assets() -> list:
    """The process_batch job's assets, in order (imported late: support loads before Dagster)."""
    from ops_assets.defs.reply_draft.assets import reply_draft
    from ops_assets.defs.review.assets import review
    from ops_assets.defs.triage.assets import triage

    return [triage, reply_draft, review]


def outcome_assets() -> list:
    from ops_assets.defs.costs.assets import cost_per_outcome
    from ops_assets.defs.crm.assets import crm
    from ops_assets.defs.delivery.assets import delivery
    from ops_assets.defs.memory.assets import episodic_memory

    return [delivery, episodic_memory, cost_per_outcome, crm]


class SmtpSink:
    """A real SMTP server (aiosmtpd) on 127.0.0.1 that keeps every message it accepts.

    Scripted behaviours for the ambiguous cases: `script` answers DATA in turn (then
    `answer`), where "drop" closes the connection once the message is in, without a word (it
    counts as accepted: a real server may deliver it); `delay_s` waits after queueing a
    message before answering (a slow server, whose client may give up first). `accepted_at`
    holds when each message was queued (time.time())."""

    DROP = "drop"

    def __init__(
        self, answer: str = "250 OK", *, script: list[str] | None = None, delay_s: float = 0.0
    ) -> None:
        import asyncio
        import threading
        import time

        from aiosmtpd.controller import Controller

        from resources.llm.local_server import free_port

        self.messages: list[bytes] = []
        self.accepted_at: list[float] = []
        self.script = list(script or [])
        self.delay_s = delay_s  # may change while it runs (a server that recovers)
        self.data_started = threading.Event()
        sink = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                sink.data_started.set()
                reply = sink.script.pop(0) if sink.script else answer
                if reply == SmtpSink.DROP or reply.startswith("250"):
                    # Queued first, answered after: what a slow real server does.
                    sink.messages.append(envelope.original_content or envelope.content)
                    sink.accepted_at.append(time.time())
                if sink.delay_s:
                    await asyncio.sleep(sink.delay_s)
                if reply == SmtpSink.DROP:
                    server.transport.abort()
                    return "250 OK"  # never reaches the client: the line is gone
                return reply

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def __enter__(self) -> "SmtpSink":
        self._controller.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._controller.stop()

    def message_ids(self) -> dict[str, int]:
        import email
        from collections import Counter

        return dict(Counter(str(email.message_from_bytes(m)["Message-ID"]) for m in self.messages))


class HookServer:
    """A real HTTP receiver on 127.0.0.1 that counts POSTs per Idempotency-Key and applies each
    key's effect once. `statuses` scripts the answers (then 200)."""

    def __init__(self, statuses: list[int] | None = None) -> None:
        import threading
        from collections import Counter
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        self.statuses = list(statuses or [])
        self.requests: Counter[str] = Counter()
        self.effects: Counter[str] = Counter()
        self.bodies: list[bytes] = []
        self.authorizations: set[str] = set()
        hook = self
        lock = threading.Lock()

        class Handler(BaseHTTPRequestHandler):
            def do_HEAD(self) -> None:
                self.send_response(200)
                self.end_headers()

            def do_POST(self) -> None:
                key = self.headers.get("Idempotency-Key", "")
                hook.authorizations.add(self.headers.get("Authorization", ""))
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with lock:
                    hook.requests[key] += 1
                    status = hook.statuses.pop(0) if hook.statuses else 200
                    if status < 300 and not hook.effects[key]:
                        hook.effects[key] += 1
                        hook.bodies.append(body)
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/hook"

    def __enter__(self) -> "HookServer":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()


def write_config(path: Path, **connectors: object) -> Path:
    """The sample config with its `connectors` section updated (nested dicts merge)."""
    import yaml

    from resources.settings.config import SAMPLE_CONFIG

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    for key, value in connectors.items():
        if isinstance(value, dict):
            config["connectors"].setdefault(key, {}).update(value)
        else:
            config["connectors"][key] = value
    path.write_text(yaml.safe_dump(config))
    return path


def memory_config(path: Path, **memory: object) -> Path:
    """The sample config with its `memory` section updated."""
    import yaml

    from resources.settings.config import SAMPLE_CONFIG

    config = yaml.safe_load(SAMPLE_CONFIG.read_text())
    config.setdefault("memory", {}).update(memory)
    path.write_text(yaml.safe_dump(config))
    return path


def permissive_policy(path: Path) -> Path:
    """A policy that lets every reviewed reply go out on its own (delivery tests)."""
    path.write_text(
        "actions:\n  send_reply:\n    default: auto\n    rules: []\nbudgets:\n  daily_usd: 5.0\n"
    )
    return path


def json_mail(folder: Path, name: str, sender: str, subject: str, body: str) -> Path:
    """A `.json` work item written into `folder` (for bench.intake([...]))."""
    import json

    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.json"
    path.write_text(
        json.dumps(
            {
                "from": sender,
                "subject": subject,
                "body": body,
                "message_id": f"<{name}@{sender.rsplit('@', 1)[-1].rstrip('>')}>",
            }
        )
    )
    return path


def priced_config(path: Path, model: str = "stub", **connectors: object) -> Path:
    """The sample config (connectors as write_config) with `model` priced at 0: a base URL on
    127.0.0.1 is a paid endpoint until the config says otherwise."""
    import yaml

    write_config(path, **connectors)
    config = yaml.safe_load(path.read_text())
    config["llm"].setdefault("prices", {})[model] = {"input": 0, "output": 0}
    path.write_text(yaml.safe_dump(config))
    return path
