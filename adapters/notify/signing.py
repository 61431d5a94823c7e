"""Webhook signatures: HMAC-SHA256 over "{timestamp}.{body}" with a shared secret.

Receivers call `verify_signature` with the raw body and the two headers. Signing the
timestamp with the body stops replays: an old delivery fails the tolerance check, and a
new timestamp on an old body fails the signature.
"""

import hashlib
import hmac
import time
from collections.abc import Iterable, Mapping

SIGNATURE_HEADER = "X-Ffwd-Signature"
TIMESTAMP_HEADER = "X-Ffwd-Timestamp"
SCHEME = "v1"
DEFAULT_TOLERANCE_S = 300


class InvalidSignature(Exception):
    """The delivery is not from a holder of the secret, or is too old (a replay)."""


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The header value: `v1=` and the hex HMAC-SHA256 of `timestamp + "." + body`."""
    message = timestamp.encode("ascii") + b"." + body
    digest = hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()
    return f"{SCHEME}={digest}"


def signed_headers(secret: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The timestamp and signature headers for one delivery attempt."""
    timestamp = str(int(time.time() if now is None else now))
    return {TIMESTAMP_HEADER: timestamp, SIGNATURE_HEADER: signature(secret, timestamp, body)}


def verify_signature(
    secrets: str | Iterable[str],
    body: bytes,
    timestamp: str | None,
    signature_header: str | None,
    *,
    tolerance_s: float = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> None:
    """Raise InvalidSignature unless `body` was signed with one of `secrets` (several while
    rotating) less than `tolerance_s` ago. Pass the raw body bytes, before any JSON parsing."""
    if not timestamp or not signature_header:
        raise InvalidSignature("missing timestamp or signature header")
    try:
        sent = int(timestamp)
    except ValueError:
        raise InvalidSignature(f"timestamp {timestamp!r} is not a Unix time") from None
    age = (time.time() if now is None else now) - sent
    if abs(age) > tolerance_s:
        raise InvalidSignature(f"timestamp is {age:.0f}s away from now (tolerance {tolerance_s}s)")
    offered = [s.strip() for s in signature_header.split(",")]
    candidates = [secrets] if isinstance(secrets, str) else list(secrets)
    for secret in candidates:
        expected = signature(secret, timestamp, body)
        if any(hmac.compare_digest(expected, o) for o in offered):
            return
    raise InvalidSignature("signature does not match the body")


def verify_headers(
    secrets: str | Iterable[str], body: bytes, headers: Mapping[str, str], **options: float
) -> None:
    """`verify_signature` reading the two headers from a mapping (any case of names)."""
    lower = {k.lower(): v for k, v in headers.items()}
    verify_signature(
        secrets,
        body,
        lower.get(TIMESTAMP_HEADER.lower()),
        lower.get(SIGNATURE_HEADER.lower()),
        **options,
    )
