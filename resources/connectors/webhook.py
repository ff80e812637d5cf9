"""Webhooks: an HTTP POST (httpx) of a JSON payload with an Idempotency-Key header.

Transient answers — 408, 429 and 5xx — and transport errors are retried (tenacity): after the
`Retry-After` the receiver asked for (seconds or an HTTP date) when it gave one, otherwise
with exponential backoff, and in both cases plus random jitter, so that many senders do not
come back in step; the key makes a repeat harmless. A Retry-After longer than `max_wait_s`
ends the send as transient at once (the ledger tries again on a later drain instead of a
drain sleeping for it). Any other 4xx is the far side refusing the payload: not retried.
Redirects are never followed: a redirected POST would reach an address nobody configured.
"""

import datetime as dt
import email.utils
import json
import random
import time
from collections.abc import Callable

import httpx
import tenacity

from resources.connectors.base import ConnectorError, Receipt

TRANSIENT = frozenset({408, 429})


class _Transient(Exception):
    def __init__(self, detail: str, code: str, retry_after: float | None = None) -> None:
        super().__init__(detail)
        self.code, self.retry_after = code, retry_after


def retry_after_s(value: str | None, now: Callable[[], float] = time.time) -> float | None:
    """A Retry-After header in seconds: delta-seconds or an HTTP date; None when absent/bad."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return max(0.0, when.timestamp() - now())


class WebhookConnector:
    name = "webhook"
    version = "1"
    can_dedupe = True  # the receiver dedupes by Idempotency-Key
    sandbox = False

    def __init__(
        self,
        url: str,
        *,
        secret: str | None = None,
        timeout_s: float = 10.0,
        max_retries: int = 3,
        backoff_s: float = 0.5,
        max_wait_s: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.url, self._secret = url, secret
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s
        self.max_wait_s = max_wait_s
        self._sleep = sleep  # tests pass a fake clock's sleep

    def _headers(self, key: str) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if self._secret:
            headers["Authorization"] = f"Bearer {self._secret}"
        return headers

    def _client(self) -> httpx.Client:
        return httpx.Client(timeout=self.timeout_s, follow_redirects=False)

    def _wait(self, state: tenacity.RetryCallState) -> float:
        jitter = random.uniform(0, self.backoff_s)  # noqa: S311 - spreading retries, not a secret
        failure = state.outcome.exception() if state.outcome else None
        if isinstance(failure, _Transient) and failure.retry_after is not None:
            return failure.retry_after + jitter
        return self.backoff_s * 2 ** (state.attempt_number - 1) + jitter

    def _post_once(self, client: httpx.Client, payload: bytes, key: str) -> Receipt:
        try:
            response = client.post(self.url, content=payload, headers=self._headers(key))
        except httpx.TransportError as exc:
            raise _Transient(f"unreachable: {type(exc).__name__}", "webhook_unreachable") from exc
        status = response.status_code
        if status < 300:
            return Receipt(self.name, key, f"HTTP {status}")
        if status >= 500 or status in TRANSIENT:
            wait = retry_after_s(response.headers.get("Retry-After"))
            if wait is not None and wait > self.max_wait_s:
                raise ConnectorError(
                    f"webhook asked to wait {wait:.0f}s (HTTP {status}): tried again later",
                    code=f"webhook_http_{status}",
                    permanent=False,
                )
            raise _Transient(f"HTTP {status}", f"webhook_http_{status}", wait)
        raise ConnectorError(
            f"webhook refused: HTTP {status}", code=f"webhook_http_{status}", permanent=True
        )

    def send(self, payload: bytes, idempotency_key: str) -> Receipt:
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Transient),
            stop=tenacity.stop_after_attempt(self.max_retries + 1),
            wait=self._wait,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            with self._client() as client:
                return retrying(self._post_once, client, payload, idempotency_key)
        except _Transient as last:
            raise ConnectorError(
                f"webhook failed after {self.max_retries + 1} tries: {last}",
                code=last.code,
                permanent=False,
            ) from last

    def lookup(self, idempotency_key: str) -> Receipt | None:
        return None  # resending under the same key is safe instead

    def health(self) -> tuple[bool, str]:
        try:
            with self._client() as client:
                status = client.head(self.url).status_code
        except httpx.HTTPError as exc:
            return False, f"webhook unreachable: {type(exc).__name__}: {exc}"[:300]
        # Any HTTP answer below 500 means the receiver is up (many refuse HEAD).
        return status < 500, f"webhook answers HTTP {status}"


def json_payload(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode("utf-8")
