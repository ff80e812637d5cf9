"""Each connector against a real server on 127.0.0.1: what it sends, what it retries, what it
refuses, and what its health check says."""

import email

import pytest
from support import HookServer, SmtpSink

from resources.connectors.base import ConnectorError, Sandbox
from resources.connectors.outbox import FileOutbox
from resources.connectors.smtp import SmtpConnector
from resources.connectors.webhook import WebhookConnector, json_payload
from resources.llm.local_server import free_port

MESSAGE = (
    b"From: Shop <hello@shop.example>\r\nTo: sam@example.com\r\nSubject: Re: hi\r\n"
    b"Message-ID: <dlv_1@shop.example>\r\n\r\nThanks!\r\n"
)


def test_smtp_sends_under_the_idempotency_key_and_reports_health() -> None:
    with SmtpSink() as sink:
        smtp = SmtpConnector("127.0.0.1", sink.port, timeout_s=5)
        assert smtp.health()[0]
        receipt = smtp.send(MESSAGE, "dlv_1")
        assert "accepted" in receipt.reference
        assert sink.message_ids() == {"<dlv_1@shop.example>": 1}
        assert smtp.lookup("dlv_1") is None and not smtp.can_dedupe
        with pytest.raises(ConnectorError, match="Message-ID") as wrong:
            smtp.send(MESSAGE, "dlv_2")
        assert wrong.value.permanent


def test_smtp_down_is_transient_and_known_unsent() -> None:
    smtp = SmtpConnector("127.0.0.1", free_port(), timeout_s=2)
    healthy, detail = smtp.health()
    assert not healthy and "unreachable" in detail
    with pytest.raises(ConnectorError) as down:
        smtp.send(MESSAGE, "dlv_1")
    assert not down.value.permanent and not down.value.maybe_sent


def test_webhook_retries_5xx_then_succeeds_with_exactly_one_effect() -> None:
    with HookServer(statuses=[500, 503]) as hook:
        webhook = WebhookConnector(hook.url, max_retries=3, backoff_s=0.01)
        receipt = webhook.send(json_payload({"event": "x"}), "key-1")
        assert receipt.reference == "HTTP 200"
        assert hook.requests["key-1"] == 3 and hook.effects["key-1"] == 1


def test_webhook_4xx_fails_at_once_without_retry() -> None:
    with HookServer(statuses=[422]) as hook:
        webhook = WebhookConnector(hook.url, max_retries=3, backoff_s=0.01)
        with pytest.raises(ConnectorError, match="422") as refused:
            webhook.send(json_payload({"event": "x"}), "key-1")
        assert refused.value.permanent and hook.requests["key-1"] == 1
        assert hook.effects["key-1"] == 0


def test_webhook_gives_up_after_its_retries_as_transient() -> None:
    with HookServer(statuses=[500] * 10) as hook:
        webhook = WebhookConnector(hook.url, max_retries=2, backoff_s=0.01)
        with pytest.raises(ConnectorError) as failed:
            webhook.send(json_payload({}), "key-1")
        assert not failed.value.permanent and hook.requests["key-1"] == 3


def test_sandbox_captures_and_never_reaches_the_far_side(tmp_path) -> None:
    with SmtpSink() as sink:
        sandbox = Sandbox(SmtpConnector("127.0.0.1", sink.port), tmp_path / "smtp", ".eml")
        receipt = sandbox.send(MESSAGE, "dlv_1")
        assert receipt.reference.startswith("sandbox:") and sandbox.lookup("dlv_1")
        assert sink.messages == []
    captured = email.message_from_bytes((tmp_path / "smtp" / "dlv_1.eml").read_bytes())
    assert captured["Message-ID"] == "<dlv_1@shop.example>"


def test_the_outbox_writes_atomically_and_dedupes_by_name(tmp_path) -> None:
    outbox = FileOutbox(tmp_path / "outbox")
    first = outbox.send(MESSAGE, "dlv_1")
    again = outbox.send(MESSAGE, "dlv_1")
    assert first == again == outbox.lookup("dlv_1")
    assert [p.name for p in (tmp_path / "outbox").iterdir()] == ["dlv_1.eml"]


def test_smtp_ignores_an_error_answer_to_quit_after_acceptance() -> None:
    with SmtpSink() as sink:
        original = sink._controller.handler

        class GrumpyQuit(type(original)):  # type: ignore[misc]
            async def handle_QUIT(self, server, session, envelope):
                return "421 closing anyway"

        sink._controller.handler = GrumpyQuit()
        smtp = SmtpConnector("127.0.0.1", sink.port, timeout_s=5)
        assert "accepted" in smtp.send(MESSAGE, "dlv_1").reference
    assert len(sink.messages) == 1


def test_smtp_refuses_an_address_it_cannot_carry_before_connecting() -> None:
    smtp = SmtpConnector("127.0.0.1", free_port(), timeout_s=2)
    with pytest.raises(ConnectorError, match="not ASCII") as refused:
        smtp.send(MESSAGE.replace(b"sam@example.com", "josé@example.com".encode()), "dlv_1")
    assert refused.value.permanent


def test_a_webhook_redirect_is_a_refusal_not_a_delivery() -> None:
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    seen: list[str] = []

    class Redirect(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(f"POST {self.path}")
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
            self.end_headers()

        def do_GET(self) -> None:
            seen.append(f"GET {self.path}")
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirect)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        webhook = WebhookConnector(f"http://127.0.0.1:{server.server_address[1]}/hook")
        with pytest.raises(ConnectorError, match="302") as refused:
            webhook.send(json_payload({}), "key-1")
        assert refused.value.permanent and seen == ["POST /hook"]
    finally:
        server.shutdown()
        server.server_close()


def test_smtp_line_dropped_after_data_may_have_arrived() -> None:
    with SmtpSink(script=[SmtpSink.DROP]) as sink:
        smtp = SmtpConnector("127.0.0.1", sink.port, timeout_s=5)
        with pytest.raises(ConnectorError) as lost:
            smtp.send(MESSAGE, "dlv_1")
        assert lost.value.maybe_sent and not lost.value.permanent
        assert lost.value.code == "smtp_connection_lost"
        assert sink.message_ids() == {"<dlv_1@shop.example>": 1}  # the server has it


def test_smtp_451_then_250_is_transient_then_accepted_once() -> None:
    with SmtpSink(script=["451 4.3.0 try again later"]) as sink:
        smtp = SmtpConnector("127.0.0.1", sink.port, timeout_s=5)
        with pytest.raises(ConnectorError) as later:
            smtp.send(MESSAGE, "dlv_1")
        assert not later.value.permanent and not later.value.maybe_sent
        assert later.value.code == "smtp_451" and sink.messages == []
        assert "accepted" in smtp.send(MESSAGE, "dlv_1").reference
        assert sink.message_ids() == {"<dlv_1@shop.example>": 1}


def test_smtp_answering_after_the_timeout_may_have_arrived() -> None:
    with SmtpSink(delay_s=1.5) as sink:
        smtp = SmtpConnector("127.0.0.1", sink.port, timeout_s=0.5)
        with pytest.raises(ConnectorError) as slow:
            smtp.send(MESSAGE, "dlv_1")
        assert slow.value.maybe_sent and slow.value.code == "smtp_connection_lost"
    assert len(sink.messages) == 1  # queued, though the client gave up on the answer


def test_smtp_refusals_carry_codes_never_the_servers_text() -> None:
    """A bounce quotes the recipient: that text must not reach the ledger or the audit log."""
    for answer in ("550 5.1.1 <sam@example.com>: mailbox unknown", "554 sam@example.com spam"):
        with SmtpSink(answer=answer) as sink:
            smtp = SmtpConnector("127.0.0.1", sink.port, timeout_s=5)
            with pytest.raises(ConnectorError) as refused:
                smtp.send(MESSAGE, "dlv_1")
        assert refused.value.permanent and refused.value.code == answer[:3].join(("smtp_", ""))
        assert "sam@" not in str(refused.value) and "mailbox" not in str(refused.value)


def test_smtp_refused_recipient_is_a_code_without_the_address() -> None:
    with SmtpSink() as sink:
        original = sink._controller.handler

        class NoSuchUser(type(original)):  # type: ignore[misc]
            async def handle_RCPT(self, server, session, envelope, address, options):
                return f"550 5.1.1 <{address}> no such user"

        sink._controller.handler = NoSuchUser()
        smtp = SmtpConnector("127.0.0.1", sink.port, timeout_s=5)
        with pytest.raises(ConnectorError) as refused:
            smtp.send(MESSAGE, "dlv_1")
    assert refused.value.permanent and refused.value.code == "smtp_550"
    assert "sam@" not in str(refused.value)


def test_the_outbox_and_sandbox_fsync_the_file_and_its_folder(tmp_path, monkeypatch) -> None:
    """A rename is durable only once its directory is synced: a power cut after `send`
    returned must not lose the file."""
    import os
    import stat

    synced: list[str] = []
    real = os.fsync

    def fsync(fd: int) -> None:
        synced.append("dir" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    FileOutbox(tmp_path / "outbox").send(MESSAGE, "dlv_1")
    assert synced == ["file", "dir"]
    synced.clear()
    Sandbox(FileOutbox(tmp_path / "x"), tmp_path / "sandbox", ".eml").send(MESSAGE, "dlv_2")
    assert synced == ["file", "dir"]
