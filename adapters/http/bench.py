"""Benchmark for the lead's `benchmarks/`: what the HTTP view endpoint adds to `get_view`.

`view_endpoint_ratio()` builds one generator with a realistic history in an SQLite store,
then measures the median time of `svc.get_view(gid)` in process, and of
`GET /api/generators/{gid}` answered by `ffwd serve`'s code (`serve()`) in a separate process
on loopback, through one keep-alive connection. A server in the measuring process would share
its GIL with the client and measure thread hand-offs instead.
Run: `python -m ffwd.adapters.http.bench`.
"""

import http.client
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ffwd.adapters.container import build_service

_CSV = "id,age,city,bio\n" + "".join(
    f"{i},{20 + i % 50},{('Vienna', 'Graz', 'Linz')[i % 3]},Likes walks number {i} a lot\n"
    for i in range(40)
)


def _times_us(call: Callable[[], Any], n: int) -> list[float]:
    for _ in range(min(50, n)):  # warm up
        call()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1e6)
    return times


def _alternating_us(first: Callable[[], Any], second: Callable[[], Any], n: int):
    """Microseconds per call of each, the two alternating call by call (ABBA...), so that both
    see the same machine from one millisecond to the next; pairs are taken back to back."""
    _times_us(first, min(50, n))
    _times_us(second, min(50, n))
    times: tuple[list[float], list[float]] = ([], [])
    order = [(0, first), (1, second)]
    for _ in range(n):
        for index, call in order:
            start = time.perf_counter()
            call()
            times[index].append((time.perf_counter() - start) * 1e6)
        order.reverse()
    return times


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_for(port: int, process: subprocess.Popen, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the server did not start")


def view_endpoint_ratio(n: int = 500, progress: int = 40) -> dict[str, float]:
    """Medians (and p90) in microseconds, endpoint / get_view, and the floor: the same
    server answering `GET /health` (HTTP, ASGI, routing and a JSON body without the service),
    requested in turn with the endpoint; `above_floor_us` is the median of their paired
    differences."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "customers.csv").write_text(_CSV, encoding="utf-8")
        store, data = f"sqlite:///{folder / 'store.db'}", str(folder / "data")
        svc = build_service(store=store, data=data)
        gid = svc.create_generator(
            {"name": "bench", "tables": [{"name": "customers", "path": "customers.csv"}]},
            base_dir=folder,
        )
        svc.request_stop(gid, "text:customers", requested_by="bench")
        attempt = svc.start_phase(gid, "tabular", "bench")
        for epoch in range(1, progress + 1):
            svc.record_progress(
                gid,
                "tabular",
                attempt,
                epoch=epoch,
                step=epoch * 9,
                elapsed_s=epoch * 0.1,
                val_loss=1.0 / epoch,
                epsilon=None,
            )
        version = svc.get_view(gid).version
        direct = _times_us(lambda: svc.get_view(gid), n)
        svc.store.close()

        port = _free_port()
        code = (
            "from ffwd.adapters.http.serve import serve; "
            f"serve({store!r}, {data!r}, '127.0.0.1', {port})"
        )
        server = subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            _wait_for(port, server)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

            def get() -> None:
                conn.request("GET", f"/api/generators/{gid}")
                response = conn.getresponse()
                body = response.read()
                assert response.status == 200, body

            def floor() -> None:  # the server without the service: routing, a JSON body
                conn.request("GET", "/health")
                conn.getresponse().read()

            over_http, http_floor = _alternating_us(get, floor, n)
            assert json.loads(body_of(conn, gid))["version"] == version
            conn.close()
        finally:
            server.terminate()
            server.wait(10)
    get_view_us, endpoint_us = statistics.median(direct), statistics.median(over_http)
    above = [e - f for e, f in zip(over_http, http_floor, strict=True)]
    return {
        "get_view_us": round(get_view_us, 1),
        "get_view_p90_us": round(statistics.quantiles(direct, n=10)[-1], 1),
        "endpoint_us": round(endpoint_us, 1),
        "endpoint_p90_us": round(statistics.quantiles(over_http, n=10)[-1], 1),
        "ratio": round(endpoint_us / get_view_us, 1),
        "http_floor_us": round(statistics.median(http_floor), 1),
        "above_floor_us": round(statistics.median(above), 1),
        "version": version,
    }


def body_of(conn: http.client.HTTPConnection, gid: Any) -> bytes:
    conn.request("GET", f"/api/generators/{gid}")
    return conn.getresponse().read()


if __name__ == "__main__":
    print(json.dumps(view_endpoint_ratio(), indent=2))
