"""Parts on Ray (`ffwd worker --ray`) beside a plain `ffwd worker`, in one run on one
PostgreSQL server and one local Ray cluster (the tests' throwaway classes):

- Stop latency across processes: a stop stored in this process -> the phase ended (its
  `PhaseSucceeded` stored by the process that trained it: a Ray worker process, or the plain
  worker). The reference engine on a tiny table; each stop lands on a phase that already
  reported progress. The generator is cancelled once its phase ended, so the next one
  starts at once.
- Dispatch overhead per part: the same short generators (the reference engine, one table:
  tabular, synthesis, report) run one part at a time by each; the time from a generator's
  first claim to its end, per part, Ray's against the plain worker's.
"""

import contextlib
import statistics
import subprocess
import time
from pathlib import Path

from benchmarks.results import Record
from benchmarks.workers import PEOPLE, _spec, _stop, _subprocess
from ffwd.domain.errors import FfwdError

PARTS = 3  # tabular, synthesis, report
POLL_MS = 1000.0  # `ffwd worker --poll-s`'s default


def run(folder: Path, scale: float) -> list[Record]:
    from tests.postgres_server import PostgresServer
    from tests.ray_cluster import RayCluster

    stops = max(10, round(30 * scale))
    generators = max(5, round(10 * scale))
    (folder / "people.csv").write_text(PEOPLE)
    server = PostgresServer().start()
    cluster = RayCluster(cpus=2).start()
    try:
        latency = {
            how: stop_latency(folder, server.create_database(), cluster, how, stops)
            for how in ("plain", "ray")
        }
        overhead = {
            how: per_part(folder, server.create_database(), cluster, how, generators)
            for how in ("plain", "ray")
        }
    finally:
        cluster.stop()
        server.stop()
    return [_latency_record(latency, stops), _overhead_record(overhead, generators)]


def _worker(store: str, data: Path, cluster, how: str, concurrency: int):
    args = ["ffwd.adapters.cli", "worker", "--poll-s", "0.05", "--concurrency", str(concurrency)]
    args += ["--store", store, "--data", str(data)]
    if how == "ray":
        args += ["--ray", cluster.address]
    return _subprocess(*args, stdout=subprocess.DEVNULL, env=cluster.env)


def stop_latency(folder: Path, store: str, cluster, how: str, stops: int) -> list[float]:
    from ffwd.adapters.container import build_service

    data = folder / f"latency-{how}"
    svc = build_service(store, str(data))
    spec = _spec(folder, "reference", max_epochs=10**6, max_training_time_s=120)
    proc = _worker(store, data, cluster, how, concurrency=2)
    latencies = []
    try:
        for _ in range(stops):
            gid = svc.create_generator(spec)
            _until(lambda g=gid: svc.get_generator(g).phases["tabular"].step > 0, "progress")
            stored = time.time()
            svc.request_stop(gid, "tabular", requested_by="bench")
            ended = _until(lambda g=gid: _ended_at(svc, g), "the phase's end")
            latencies.append((ended - stored) * 1000)
            with contextlib.suppress(FfwdError):  # it may have ended already
                svc.cancel(gid, requested_by="bench")
    finally:
        _stop([proc])
        svc.store.close()
    return sorted(latencies)


def _ended_at(svc, gid) -> float | None:
    for e in reversed(svc.store.events(gid)):
        if type(e).__name__ == "PhaseSucceeded":
            return e.timestamp.timestamp()
    return None


def per_part(folder: Path, store: str, cluster, how: str, generators: int) -> list[float]:
    from ffwd.adapters.container import build_service

    data = folder / f"parts-{how}"
    svc = build_service(store, str(data))
    spec = _spec(folder, "reference", max_epochs=1)
    proc = _worker(store, data, cluster, how, concurrency=1)
    try:
        gids = [svc.create_generator(spec) for _ in range(generators)]
        _until(lambda: all(svc.get_view(g).state == "succeeded" for g in gids), "the runs", 600)
    finally:
        _stop([proc])
    per_generator = []
    for gid in gids:
        events = svc.store.events(gid)
        claimed = next(e for e in events if type(e).__name__ == "PhaseStarted").timestamp
        per_generator.append((events[-1].timestamp - claimed).total_seconds() * 1000 / PARTS)
    svc.store.close()
    return per_generator


def _until(condition, what: str, timeout_s: float = 120):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = condition()
        if found:
            return found
        time.sleep(0.005)
    raise TimeoutError(f"waited {timeout_s:.0f} s for {what}")


def _p99(values: list[float]) -> float:
    return values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]


def _latency_record(latency: dict[str, list[float]], stops: int) -> Record:
    plain, ray = latency["plain"], latency["ray"]
    return Record(
        name="stop_latency_ray",
        line=f"stop stored -> phase ended, PostgreSQL, {stops} stops each: on Ray (a Ray worker "
        f"process) median {statistics.median(ray):.1f} ms, p99 {_p99(ray):.1f} ms; plain "
        f"worker median {statistics.median(plain):.1f} ms, p99 {_p99(plain):.1f} ms; ratio = "
        f"Ray p99 / plain p99",
        measured=_p99(ray),
        reference=_p99(plain),
        unit="ms",
        ratio=_p99(ray) / _p99(plain),
        op="<=",
        target=2.0,
        details={
            "ray_median_ms": statistics.median(ray),
            "ray_p99_ms": _p99(ray),
            "plain_median_ms": statistics.median(plain),
            "plain_p99_ms": _p99(plain),
            "ray_ms": ray,
            "plain_ms": plain,
        },
    )


def _overhead_record(overhead: dict[str, list[float]], generators: int) -> Record:
    plain, ray = statistics.median(overhead["plain"]), statistics.median(overhead["ray"])
    added = ray - plain
    return Record(
        name="dispatch_overhead_ray",
        line=f"per part through Ray: {added:.0f} ms more than a plain worker's (median over "
        f"{generators} generators of {PARTS} short parts, first claim to end: Ray {ray:.0f} "
        f"ms a part, plain {plain:.0f} ms) vs {POLL_MS:.0f} ms, the default interval at which "
        f"an idle plain worker looks for work; ratio = added / that interval",
        measured=added,
        reference=POLL_MS,
        unit="ms/part",
        ratio=added / POLL_MS,
        op="<=",
        target=0.5,
        details={"ray_ms": overhead["ray"], "plain_ms": overhead["plain"]},
    )
