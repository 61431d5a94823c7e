"""Who may call the server, checked before the app sees a request (ADR 0021): a Host the
server answers to, the token on every API route and output file, mutations only from the
server's own origin, and JSON bodies of at most `MAX_BODY` bytes.

A plain ASGI middleware: a view read pays for one header scan, not for a framework layer.
"""

import hmac
import re
from collections.abc import Awaitable, Callable, Collection
from urllib.parse import urlsplit

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ffwd.adapters.http.problems import problem

MAX_BODY = 1 << 20  # 1 MiB: a spec is a few kilobytes
MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
ANY_HOST = "*"
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_OPEN = frozenset({"/health"})  # a liveness probe names the pod's address, and learns nothing
_FILES = re.compile(r"^/generators/[^/]+/files/")
_DEFAULT_PORTS = {"http": "80", "https": "443"}
_SAME_SITE = frozenset({"same-origin", "none"})


def host_name(host: str) -> str:
    """The name in a `Host` header or an origin's authority: no port, lowercase, IPv6 bare."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _authority(host: str, scheme: str) -> str:
    """`host[:port]` without the scheme's default port, for comparing origins."""
    host = host.strip().lower()
    default = _DEFAULT_PORTS.get(scheme)
    return host.removesuffix(f":{default}") if default else host


def same_origin(headers: Headers, scheme: str) -> bool:
    """Whether a request comes from a page of this server, or from no page at all (a script,
    curl): browsers name the page's origin in `Origin` on every cross-origin mutation."""
    origin = headers.get("origin")
    if origin is None:
        return headers.get("sec-fetch-site", "none") in _SAME_SITE
    parts = urlsplit(origin)
    if not parts.scheme or not parts.netloc:  # "null": a sandboxed frame, a file
        return False
    return _authority(parts.netloc, parts.scheme) == _authority(headers.get("host", ""), scheme)


def _is_json(content_type: str | None) -> bool:
    return (content_type or "").split(";", 1)[0].strip().lower() == "application/json"


def _has_body(headers: Headers) -> bool:
    return headers.get("content-length", "0").strip() not in ("", "0") or (
        "transfer-encoding" in headers
    )


class RequestGuard:
    """Refuses, as problem+json, what the app must never see (ADR 0021)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        allowed_hosts: Collection[str],
        token: str | None,
        max_body: int = MAX_BODY,
    ) -> None:
        self.app = app
        names = {host_name(h) for h in allowed_hosts}
        self.hosts = None if ANY_HOST in names else frozenset(names)
        self.token = token.encode() if token else None
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        path, method = scope["path"], scope["method"]
        refusal = self._refusal(headers, path, method, scope.get("scheme", "http"))
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        if method in MUTATING and _has_body(headers):
            body = await _read_body(receive, self.max_body)
            if body is None:
                too_large = f"a request body may have at most {self.max_body:,} bytes"
                await problem(413, "payload_too_large", too_large, instance=path)(
                    scope, receive, send
                )
                return
            receive = _replay(body, receive)
        await self.app(scope, receive, _relative_redirects(send))

    def _refusal(
        self, headers: Headers, path: str, method: str, scheme: str
    ) -> Callable[[Scope, Receive, Send], Awaitable[None]] | None:
        foreign = self.hosts is not None and host_name(headers.get("host", "")) not in self.hosts
        if foreign and path not in _OPEN:
            detail = "this server does not answer to that Host (ffwd serve --allowed-host)"
            return problem(400, "host_not_allowed", detail, instance=path)
        if self.token is not None and (path.startswith("/api/") or _FILES.match(path)):
            scheme_name, _, given = headers.get("authorization", "").partition(" ")
            if scheme_name.lower() != "bearer" or not hmac.compare_digest(
                given.strip().encode(), self.token
            ):
                return problem(
                    401,
                    "unauthorized",
                    "this server needs `Authorization: Bearer <FFWD_API_TOKEN>`",
                    instance=path,
                    headers={"WWW-Authenticate": 'Bearer realm="ffwd"'},
                )
        if method not in MUTATING:
            return None
        if not same_origin(headers, scheme):
            detail = "a change may only come from this server's own pages (Origin)"
            return problem(403, "origin_not_allowed", detail, instance=path)
        if _has_body(headers) and not _is_json(headers.get("content-type")):
            detail = "a request body must be `Content-Type: application/json`"
            return problem(415, "unsupported_media_type", detail, instance=path)
        if int(_digits(headers.get("content-length"))) > self.max_body:
            detail = f"a request body may have at most {self.max_body:,} bytes"
            return problem(413, "payload_too_large", detail, instance=path)
        return None


def _digits(value: str | None) -> str:
    value = (value or "").strip()
    return value if value.isdigit() else "0"


async def _read_body(receive: Receive, limit: int) -> bytes | None:
    """The whole body, or None as soon as it grows past `limit` (a chunked body has no
    Content-Length to refuse it by)."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return b"".join(chunks)
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that gives the body read once, then what the client sends (a disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replay


def _relative_redirects(send: Send) -> Send:
    """Redirects name a path, never a host taken from the request."""

    async def relative(message: Message) -> None:
        if message["type"] == "http.response.start" and 300 <= message["status"] < 400:
            message["headers"] = [
                (k, _path_only(v) if k.lower() == b"location" else v)
                for k, v in message.get("headers", [])
            ]
        await send(message)

    return relative


def _path_only(location: bytes) -> bytes:
    parts = urlsplit(location.decode("latin-1"))
    relative = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return relative.encode("latin-1")
