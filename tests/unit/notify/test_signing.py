"""The webhook signature: HMAC-SHA256 over "{timestamp}.{body}", checked by the shipped
verifier, which refuses other bodies, other secrets and old timestamps."""

import hashlib
import hmac

import pytest

from ffwd.adapters.notify.signing import (
    InvalidSignature,
    signature,
    signed_headers,
    verify_headers,
    verify_signature,
)

BODY = b'{"id":"g:1","type":"phase.started"}'
NOW = 1_800_000_000


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    expected = hmac.new(b"s3cret", f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert signature("s3cret", str(NOW), BODY) == f"v1={expected}"


def test_signed_headers_verify() -> None:
    headers = signed_headers("s3cret", BODY, now=NOW)
    assert headers["X-Ffwd-Timestamp"] == str(NOW)
    verify_headers("s3cret", BODY, {k.lower(): v for k, v in headers.items()}, now=NOW + 10)


@pytest.mark.parametrize(
    ("secret", "body", "now", "problem"),
    [
        ("other", BODY, NOW, "does not match"),
        ("s3cret", BODY + b" ", NOW, "does not match"),
        ("s3cret", BODY, NOW + 301, "tolerance"),
        ("s3cret", BODY, NOW - 301, "tolerance"),
    ],
)
def test_other_secrets_bodies_and_old_deliveries_are_refused(secret, body, now, problem) -> None:
    headers = signed_headers("s3cret", BODY, now=NOW)
    with pytest.raises(InvalidSignature, match=problem):
        verify_headers(secret, body, headers, now=now)


def test_a_replayed_body_with_a_fresh_timestamp_is_refused() -> None:
    old = signed_headers("s3cret", BODY, now=NOW)
    with pytest.raises(InvalidSignature, match="does not match"):
        verify_signature("s3cret", BODY, str(NOW + 400), old["X-Ffwd-Signature"], now=NOW + 400)


def test_secrets_can_be_rotated() -> None:
    headers = signed_headers("new", BODY, now=NOW)
    verify_headers(["old", "new"], BODY, headers, now=NOW)


@pytest.mark.parametrize(("timestamp", "sig"), [(None, "v1=ab"), (str(NOW), None), ("x", "v1")])
def test_missing_or_malformed_headers_are_refused(timestamp, sig) -> None:
    with pytest.raises(InvalidSignature):
        verify_signature("s3cret", BODY, timestamp, sig, now=NOW)
