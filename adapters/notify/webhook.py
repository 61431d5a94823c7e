"""The Notifier port as webhooks: a signed JSON POST per notice, one attempt per call."""

import json
import time
from email.utils import parsedate_to_datetime

import httpx

from ffwd.adapters.notify.notices import payload
from ffwd.adapters.notify.signing import signed_headers
from ffwd.application.ports import DeliveryFailed, Notice

USER_AGENT = "ffwd-notify/1"
# Answers worth trying again: the receiver may be overloaded, restarting, or rate-limiting.
RETRYABLE_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})
ANSWER_CHARS = 500


def body_of(notice: Notice) -> bytes:
    """The exact bytes that are signed and sent: compact JSON, keys in schema order."""
    return json.dumps(payload(notice), separators=(",", ":"), ensure_ascii=False).encode()


class WebhookNotifier:
    """POSTs `body_of(notice)` to `url`, signed (X-Ffwd-Timestamp, X-Ffwd-Signature), with the
    notice key as `Idempotency-Key`. A 2xx answer is a delivery; anything else, a refusal.
    Only `ffwd notify test` sends unsigned (no secret given); configured endpoints need one."""

    def __init__(
        self,
        name: str,
        url: str,
        secret: str | None,
        events: tuple[str, ...],
        timeout_s: float = 5.0,
    ) -> None:
        self.name, self.url, self.events = name, url, frozenset(events)
        self._secret = secret
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout_s), follow_redirects=False, trust_env=False
        )

    def wants(self, notice_type: str) -> bool:
        return notice_type in self.events

    def post(self, notice: Notice, attempt: int = 1) -> httpx.Response:
        """One signed POST; the receiver's answer whatever it is (network errors raise)."""
        body = body_of(notice)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": notice.key,
            "X-Ffwd-Event": notice.type,
            "X-Ffwd-Attempt": str(attempt),
        }
        if self._secret:
            headers.update(signed_headers(self._secret, body))
        return self._client.post(self.url, content=body, headers=headers)

    def send(self, notice: Notice, attempt: int) -> None:
        try:
            answer = self.post(notice, attempt)
        except httpx.TimeoutException as e:
            raise DeliveryFailed(f"timed out: {type(e).__name__}") from e
        except httpx.HTTPError as e:
            raise DeliveryFailed(f"{type(e).__name__}: {e}") from e
        if answer.is_success:
            return
        raise DeliveryFailed(
            f"HTTP {answer.status_code}: {answer.text[:ANSWER_CHARS]}",
            retryable=answer.status_code in RETRYABLE_STATUS,
            retry_after_s=_retry_after(answer.headers.get("Retry-After")),
        )

    def close(self) -> None:
        self._client.close()


def _retry_after(value: str | None) -> float | None:
    """Seconds from a Retry-After header (delta seconds or an HTTP date)."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None
