"""A webhook receiver on loopback for tests: records every request, answers as scripted."""

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from ffwd.adapters.notify.signing import InvalidSignature, verify_headers

HANG_CAP_S = 30.0


@dataclass
class Request:
    headers: dict[str, str]
    body: bytes
    at: float
    verified: bool | None = None

    @property
    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    @property
    def key(self) -> str:
        return self.headers["Idempotency-Key"]


@dataclass
class Receiver:
    """`script` answers the requests in order (an HTTP status, ("sleep", s) then 200, or
    "hang" until `release()`); once it runs out, every answer is 200."""

    secret: str | None = None
    script: list[Any] = field(default_factory=list)
    requests: list[Request] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.changed = threading.Condition(self._lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self._thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def answer(self, *script: Any) -> None:
        with self._lock:
            self.script = list(script)

    def release(self) -> None:
        self._released.set()

    def wait_for(self, count: int, timeout_s: float = 15.0) -> list[Request]:
        """The requests once there are at least `count`; AssertionError after the timeout."""
        return self.wait_until(lambda requests: len(requests) >= count, timeout_s)

    def wait_until(
        self, done: Callable[[list[Request]], bool], timeout_s: float = 15.0
    ) -> list[Request]:
        deadline = time.monotonic() + timeout_s
        with self.changed:
            while not done(self.requests):
                left = deadline - time.monotonic()
                assert left > 0, f"gave up waiting after {len(self.requests)} requests"
                self.changed.wait(left)
            return list(self.requests)

    def keys(self) -> list[str]:
        with self._lock:
            return [r.key for r in self.requests]

    def close(self) -> None:
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
        request = Request(dict(handler.headers.items()), body, time.monotonic())
        if self.secret is not None:
            try:
                verify_headers(self.secret, body, request.headers)
                request.verified = True
            except InvalidSignature:
                request.verified = False
        with self.changed:
            self.requests.append(request)
            action = self.script.pop(0) if self.script else 200
            self.changed.notify_all()
        if action == "hang":
            self._released.wait(HANG_CAP_S)
            action = 200
        elif isinstance(action, tuple):
            time.sleep(action[1])
            action = 200
        try:
            answer = json.dumps({"received": request.key, "status": action}).encode()
            handler.send_response(action)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(answer)))
            handler.end_headers()
            handler.wfile.write(answer)
        except OSError:
            pass  # the sender gave up (timeout) or died (SIGKILL): nobody to answer
