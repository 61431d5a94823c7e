"""`ffwd serve`: the API and the web page on uvicorn; and a server in a thread for tests."""

import ipaddress
import os
import socket
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import uvicorn
from fastapi import FastAPI

from ffwd.adapters.container import build_service
from ffwd.adapters.http.app import TOKEN_ENV, create_app
from ffwd.adapters.http.guard import LOOPBACK_NAMES

GRACEFUL_S = 3.0
WILDCARDS = ("0.0.0.0", "::", "")


class Exposed(ValueError):
    """`ffwd serve` would be reachable by others in a way the operator did not ask for."""


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def answers_to(host: str, allowed: Sequence[str]) -> list[str]:
    """The Host names the server answers to: those given, else the bound address (and the
    loopback names when it is one). Bound to every address, the names must be given."""
    if allowed:
        return list(allowed)
    if host in WILDCARDS:
        raise Exposed(
            f"bound to every address ({host or '*'}): name the host names clients use, "
            "--allowed-host NAME (repeatable), or --allowed-host '*' for any"
        )
    return [host, *LOOPBACK_NAMES] if is_loopback(host) else [host]


def check_exposure(host: str, token: str | None, no_token: bool) -> None:
    """Exposed when bound beyond loopback with no token, unless `no_token` says so."""
    if not is_loopback(host) and not token and not no_token:
        raise Exposed(
            f"{host} is reachable from other machines and {TOKEN_ENV} is not set: set it, "
            "or pass --no-token to serve without one"
        )


def input_folders(data: str, given: Sequence[str | Path]) -> list[Path]:
    """The folders specs may name files in: those given (they must exist), else
    `{data}/inputs`, made when missing."""
    if not given:
        default = Path(data) / "inputs"
        default.mkdir(parents=True, exist_ok=True)
        return [default]
    missing = [str(f) for f in given if not Path(f).is_dir()]
    if missing:
        raise Exposed(f"--inputs: no such folder: {', '.join(missing)}")
    return [Path(f) for f in given]


def app_settings(
    host: str,
    data: str,
    *,
    inputs: Sequence[str | Path] = (),
    allowed_hosts: Sequence[str] = (),
    no_token: bool = False,
    max_table_bytes: int | None = None,
) -> dict[str, Any]:
    """`create_app`'s safety options for `ffwd serve` on `host`; Exposed for a setting that
    would expose the server (ADR 0021)."""
    token = os.environ.get(TOKEN_ENV) or None
    check_exposure(host, token, no_token)
    return {
        "api_token": token or "",
        "allowed_hosts": answers_to(host, allowed_hosts),
        "inputs": input_folders(data, inputs),
        "max_table_bytes": max_table_bytes,
    }


def serve(
    store: str,
    data: str,
    host: str,
    port: int,
    *,
    workers: int = 1,
    lock_timeout_s: float = 5.0,
    **options: Any,
) -> None:
    """Serve the API, the web page and OpenAPI (`/docs`) until interrupted.

    `workers`: the server runs the store's queued generators, at most this many parts at
    once (0: the API only). `FFWD_API_TOKEN`, when set, is the bearer token every API
    request and output file needs. `options` are `app_settings`'s; Exposed is raised before
    anything starts.
    """
    settings = app_settings(host, data, **options)
    svc = build_service(store=store, data=data, lock_timeout_s=lock_timeout_s)
    app = create_app(svc, workers=workers, data=data, **settings)
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
