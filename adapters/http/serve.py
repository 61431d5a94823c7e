"""`ffwd serve`: the API and the web page on uvicorn; and a server in a thread for tests."""

import socket
import threading
import time
from types import TracebackType

import uvicorn
from fastapi import FastAPI

from ffwd.adapters.container import build_service
from ffwd.adapters.http.app import create_app

GRACEFUL_S = 3.0


def serve(store: str, data: str, host: str, port: int) -> None:
    """Serve the API, the web page and OpenAPI (`/docs`) until interrupted.

    Generators created through the API are run by this server (in background threads);
    `FFWD_API_TOKEN`, when set, is the bearer token every mutating request needs.
    """
    svc = build_service(store=store, data=data)
    app = create_app(svc, run_generators=True, data=data)
    try:
        uvicorn.run(
            app,
            host=host,
            port=port,
            log_level="info",
            timeout_graceful_shutdown=GRACEFUL_S,
        )
    finally:
        svc.store.close()


class BackgroundServer:
    """A real uvicorn server for `app` on a free loopback port, in a daemon thread.

    `with BackgroundServer(app) as server: httpx.get(server.url + "/api/generators")`
    """

    def __init__(self, app: FastAPI, host: str = "127.0.0.1") -> None:
        self.app = app
        self.host = host
        # IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say TCP, and without
        # it every response waits ~40 ms for a delayed ACK (headers and body are two writes).
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind((host, 0))
        self.port = self._socket.getsockname()[1]
        self.url = f"http://{host}:{self.port}"
        config = uvicorn.Config(
            app, log_level="warning", timeout_graceful_shutdown=1, lifespan="on"
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self._socket]}, daemon=True
        )

    def start(self, timeout_s: float = 10.0) -> "BackgroundServer":
        self._thread.start()
        deadline = time.monotonic() + timeout_s
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the server on {self.url} did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(10)
        self._socket.close()

    def __enter__(self) -> "BackgroundServer":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
