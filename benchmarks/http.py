"""The view endpoint against `get_view` itself, over real HTTP to a `ffwd serve` process."""

from pathlib import Path

from benchmarks.results import Record


def run(folder: Path, scale: float) -> list[Record]:
    from ffwd.adapters.http.bench import view_endpoint_ratio

    r = view_endpoint_ratio(n=max(100, int(500 * scale)))
    added = max(r["above_floor_us"], 0.0)
    return [
        Record(
            name="view_endpoint",
            line=f"GET /api/generators/{{id}}: {r['endpoint_us']:.0f} us over loopback, of which "
            f"{added:.0f} us above GET /health asked in turn ({r['http_floor_us']:.0f} us of "
            f"HTTP+ASGI), "
            f"vs get_view {r['get_view_us']:.0f} us; ratio = endpoint above the floor / get_view",
            measured=added,
            reference=r["get_view_us"],
            unit="us",
            ratio=added / r["get_view_us"],
            op="<=",
            target=2.0,
            details=r,
        )
    ]
