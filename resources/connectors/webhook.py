"""Webhooks: an HTTP POST of a JSON payload with an Idempotency-Key header. 5xx answers and
timeouts are retried with exponential backoff (the key makes a repeat harmless); a 4xx is the
far side refusing the payload and is not retried."""

import json
import time
import urllib.error
import urllib.request

from resources.connectors.base import ConnectorError, Receipt


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """urllib turns a redirected POST into a body-less GET: a redirect is a refusal here."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirect)


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
    ) -> None:
        self.url, self._secret = url, secret
        self.timeout_s, self.max_retries, self.backoff_s = timeout_s, max_retries, backoff_s

    def _request(self, payload: bytes, key: str) -> urllib.request.Request:
        headers = {"Content-Type": "application/json", "Idempotency-Key": key}
        if self._secret:
            headers["Authorization"] = f"Bearer {self._secret}"
        return urllib.request.Request(self.url, data=payload, headers=headers, method="POST")  # noqa: S310

    def send(self, payload: bytes, idempotency_key: str) -> Receipt:
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                with _OPENER.open(
                    self._request(payload, idempotency_key), timeout=self.timeout_s
                ) as response:
                    return Receipt(self.name, idempotency_key, f"HTTP {response.status}")
            except urllib.error.HTTPError as exc:
                exc.close()  # the error is also the response: release its socket
                if exc.code < 500:
                    raise ConnectorError(
                        f"webhook refused: HTTP {exc.code}",
                        code=f"webhook_http_{exc.code}",
                        permanent=True,
                    ) from exc
                last = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                last = f"unreachable: {exc}"[:200]
        raise ConnectorError(
            f"webhook failed after {self.max_retries + 1} tries: {last}",
            code="webhook_unreachable",
            permanent=False,
        )

    def lookup(self, idempotency_key: str) -> Receipt | None:
        return None  # resending under the same key is safe instead

    def health(self) -> tuple[bool, str]:
        request = urllib.request.Request(self.url, method="HEAD")  # noqa: S310
        try:
            with _OPENER.open(request, timeout=self.timeout_s) as response:
                return True, f"webhook answers HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            exc.close()
            # Any HTTP answer below 500 means the receiver is up (many refuse HEAD).
            return exc.code < 500, f"webhook answers HTTP {exc.code}"
        except (urllib.error.URLError, TimeoutError, OSError) as exc:
            return False, f"webhook unreachable: {exc}"[:300]


def json_payload(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, default=str).encode("utf-8")
