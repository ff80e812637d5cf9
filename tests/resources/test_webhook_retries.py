"""The webhook's retries against a real HTTP receiver on 127.0.0.1: 408, 429 and 5xx are
transient, a Retry-After is honoured (seconds or an HTTP date) plus jitter, backoff grows
otherwise; the waits go through a fake sleep, so nothing here waits for real."""

import email.utils
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread

import pytest

from resources.connectors.base import ConnectorError
from resources.connectors.webhook import WebhookConnector, json_payload, retry_after_s
from resources.llm.local_server import free_port


class Scripted:
    """Answers POSTs in turn with (status, headers), then 200; counts them."""

    def __init__(self, answers: list[tuple[int, dict[str, str]]]) -> None:
        self.answers, self.posts = list(answers), 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                receiver.posts += 1
                status, headers = receiver.answers.pop(0) if receiver.answers else (200, {})
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"


@pytest.fixture
def receiver() -> Iterator[Scripted]:
    made: list[Scripted] = []

    def make(answers: list[tuple[int, dict[str, str]]]) -> Scripted:
        found = Scripted(answers)
        Thread(target=found.server.serve_forever, daemon=True).start()
        made.append(found)
        return found

    yield make  # type: ignore[misc]
    for found in made:
        found.server.shutdown()
        found.server.server_close()


def _webhook(url: str, slept: list[float], **kw: object) -> WebhookConnector:
    return WebhookConnector(url, sleep=slept.append, **kw)  # type: ignore[arg-type]


def test_a_429_is_retried_after_its_retry_after_plus_jitter(receiver) -> None:
    hook, slept = receiver([(429, {"Retry-After": "7"})]), []
    receipt = _webhook(hook.url, slept, backoff_s=0.5).send(json_payload({}), "key-1")
    assert receipt.reference == "HTTP 200" and hook.posts == 2
    (wait,) = slept
    assert 7 <= wait <= 7.5


def test_a_503_with_an_http_date_and_a_408_are_transient_too(receiver) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    hook, slept = receiver([(503, {"Retry-After": when}), (408, {})]), []
    _webhook(hook.url, slept, backoff_s=0.25).send(json_payload({}), "key-1")
    assert hook.posts == 3
    assert 28 <= slept[0] <= 30.25  # the date, less the second or two it took to get here
    assert 0.5 <= slept[1] <= 0.75  # no Retry-After: the second backoff step (0.25 * 2) + jitter


def test_backoff_grows_with_jitter_then_gives_up_as_transient(receiver) -> None:
    hook, slept = receiver([(500, {})] * 10), []
    with pytest.raises(ConnectorError) as failed:
        _webhook(hook.url, slept, max_retries=3, backoff_s=1.0).send(json_payload({}), "key-1")
    assert not failed.value.permanent and failed.value.code == "webhook_http_500"
    assert hook.posts == 4 and len(slept) == 3
    for n, wait in enumerate(slept):
        assert 2**n <= wait <= 2**n + 1.0
    assert len(set(slept)) == 3  # jittered: not in step with every other sender


def test_a_retry_after_beyond_the_longest_wait_is_left_to_a_later_drain(receiver) -> None:
    hook, slept = receiver([(429, {"Retry-After": "3600"})]), []
    with pytest.raises(ConnectorError, match="3600s") as later:
        _webhook(hook.url, slept, max_wait_s=60).send(json_payload({}), "key-1")
    assert not later.value.permanent and hook.posts == 1 and slept == []


def test_other_4xx_are_refusals_and_an_unreachable_receiver_is_retried(receiver) -> None:
    hook, slept = receiver([(422, {"Retry-After": "1"})]), []
    with pytest.raises(ConnectorError, match="422") as refused:
        _webhook(hook.url, slept).send(json_payload({}), "key-1")
    assert refused.value.permanent and hook.posts == 1 and slept == []

    slept = []
    with pytest.raises(ConnectorError) as down:
        _webhook(f"http://127.0.0.1:{free_port()}/hook", slept, max_retries=2).send(b"{}", "k")
    assert not down.value.permanent and down.value.code == "webhook_unreachable"
    assert len(slept) == 2


def test_retry_after_parses_seconds_and_dates() -> None:
    assert retry_after_s("120") == 120.0
    assert retry_after_s(email.utils.formatdate(1000.0, usegmt=True), now=lambda: 990.0) == 10.0
    assert retry_after_s("soon") is None and retry_after_s(None) is None
