"""Many workers on one PostgreSQL (not in the default run: `make bench ARGS="--only
many_workers"`): 1,000 generators of 3 phases each run by 1, 2, 4 and 8 `ffwd worker`
processes (instant phases, no report: what the store and the claims allow), while another
process stops random phases and cancels random generators. Every generator must end, and
every history keep every invariant of RULES.md; generators/minute per worker count.
"""

import os
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.results import Record
from benchmarks.workers import _InstantEngine, _stop, _subprocess, _wait_until_following

DEFAULT = False  # about ten minutes: run by name only
GENERATORS = 1_000
WORKER_COUNTS = (1, 2, 4, 8)
CSV = "id,note\n" + "".join(f"{i},said thing number {i % 9}\n" for i in range(20))


def run(folder: Path, scale: float) -> list[Record]:
    from tests.postgres_server import PostgresServer

    generators = max(50, int(GENERATORS * scale))
    for name in ("a", "b"):
        (folder / f"{name}.csv").write_text(CSV)
    server = PostgresServer().start()
    try:
        rates = {}
        for workers in WORKER_COUNTS:
            rates[workers] = _one_round(folder, server.create_database(), workers, generators)
            print(f"  {workers} workers: {_brief(rates[workers])}", flush=True)
    finally:
        server.stop()
    one = rates[1]["per_minute"]
    cpus = os.cpu_count() or 1
    return [
        Record(
            name=f"many_workers_{n}",
            line=f"PostgreSQL, {generators:,} generators of 3 phases with random stops and "
            f"cancels: {n} workers {r['per_minute']:.0f} generators/min vs 1 worker {one:.0f}; "
            f"{r['ended']} ended, {r['checked']} histories keep every invariant; it flattens at "
            f"{cpus} cores: each claim and report is CPU in a worker and in PostgreSQL, and "
            f"{n} workers share {cpus} cores with the server and the stopping process",
            measured=r["per_minute"],
            reference=one,
            unit="generators/min",
            ratio=r["per_minute"] / one,
            op=">=",
            target=0.9,  # more workers must not lower throughput
            details={str(k): v for k, v in rates.items()},
        )
        for n, r in rates.items()
        if n > 1
    ]


def _one_round(folder: Path, store: str, workers: int, generators: int) -> dict[str, Any]:
    from ffwd.adapters.container import build_service
    from ffwd.application.summaries import SummaryQuery
    from tests.integration.workers.histories import check_history

    data = folder / f"data-many-{workers}"
    svc = build_service(store, str(data))
    spec = {
        "name": "many",
        "engine": "bench",
        "tables": [
            {"name": name, "path": str(folder / f"{name}.csv"), "text_columns": ["note"]}
            for name in ("a", "b")
        ],
        "training": {"early_stopping_patience": None},
    }
    svc.engines["bench"] = _InstantEngine()  # the workers run it; named here for the check
    procs = [
        _subprocess(
            "benchmarks.workers", "fast-worker", store, str(data), stdout=subprocess.DEVNULL
        )
        for _ in range(workers)
    ]
    chaos = None
    try:
        _wait_until_following(store, workers - 1)  # every worker (this process follows none)
        gids = [svc.create_generator(spec) for _ in range(generators)]
        chaos = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.many_workers", store, str(data)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            live = sum(
                len(svc.store.summaries(SummaryQuery(state=state, limit=1)))
                for state in ("queued", "running")
            )
            if not live:
                break
            time.sleep(0.5)
        else:
            raise TimeoutError("generators still live after 30 minutes")
    finally:
        if chaos is not None:
            chaos.terminate()
            chaos.wait(30)
        _stop(procs)
    histories = {gid: list(svc.store.events(gid)) for gid in gids}
    for gid, events in histories.items():
        check_history(events, live=svc.store.get(gid))
    claims = [
        e.timestamp for h in histories.values() for e in h if type(e).__name__ == "PhaseStarted"
    ]
    first, last = min(claims), max(h[-1].timestamp for h in histories.values())
    window = (last - first).total_seconds()
    states = [svc.store.summary(gid).state for gid in gids]
    svc.store.close()
    return {
        "workers": workers,
        "seconds": window,
        "per_minute": generators / window * 60,
        "ended": sum(s in ("succeeded", "failed", "cancelled") for s in states),
        "cancelled": states.count("cancelled"),
        "checked": len(histories),
    }


def _brief(r: dict[str, Any]) -> str:
    return ", ".join(f"{k} {v:,.1f}" if isinstance(v, float) else f"{k} {v}" for k, v in r.items())


def _chaos(store: str, data: str) -> None:
    """Every 50 ms, five live generators: a random phase of each stopped, or (one in ten)
    the generator cancelled, as people on the page would; until terminated."""
    from ffwd.adapters.container import build_service
    from ffwd.application.summaries import SummaryQuery
    from ffwd.domain.errors import FfwdError

    svc = build_service(store, data)
    phases = ["tabular", "text:a", "text:b"]
    while True:
        live = svc.store.summaries(SummaryQuery(state="running", limit=50))
        live += svc.store.summaries(SummaryQuery(state="queued", limit=50))
        for summary in random.sample(live, min(5, len(live))):
            try:
                if random.random() < 0.1:
                    svc.cancel(summary.id, requested_by="chaos")
                else:
                    svc.request_stop(summary.id, random.choice(phases), requested_by="chaos")
            except FfwdError:
                pass  # it ended meanwhile, or that phase did
        time.sleep(0.05)


if __name__ == "__main__":
    _chaos(sys.argv[1], sys.argv[2])
