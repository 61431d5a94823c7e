"""Flat at scale (ADR 0020): what one request costs with 1,000 generators stored, against the
same with 10,000 (and 100,000 under FFWD_BENCH_SCALE=full), on SQLite and PostgreSQL, in one
run; a rebuild of the summaries; draining 400 queued generators against 200.

The stores are filled with real histories: a few dozen generators are run through the
service's own commands (~45 events each: progress, kept checkpoints, stops, a cancel, a
failure), and each stored generator is a copy of one of them under its own id and times,
inserted in bulk (the commands that made them are the same; only the fsyncs are spared).
Every size's summaries are then rebuilt from those events, which measures the rebuild.
"""

import contextlib
import http.client
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from benchmarks.results import Record

ROOT = Path(__file__).resolve().parents[1]
PEOPLE = "id,age,city,note\n" + "".join(
    f"{i},{20 + i % 40},{['Paris', 'Rome', 'Oslo'][i % 3]},likes maps {i % 7}\n" for i in range(40)
)
FLAT = 1.5  # a request at the largest size may cost at most this much more than at 1,000


def sizes() -> tuple[int, ...]:
    full = os.environ.get("FFWD_BENCH_SCALE") == "full"
    return (1_000, 10_000, 100_000) if full else (1_000, 10_000)


def stores() -> list[str]:
    """Both, or those named in FFWD_BENCH_STORES (e.g. `postgresql`: a full run takes long)."""
    return os.environ.get("FFWD_BENCH_STORES", "sqlite,postgresql").split(",")


def run(folder: Path, scale: float) -> list[Record]:
    from tests.postgres_server import PostgresServer

    (folder / "people.csv").write_text(PEOPLE)
    templates = _template_histories(folder)
    server = PostgresServer().start()
    try:
        records: list[Record] = []
        for kind in stores():
            urls = {
                n: f"sqlite:///{folder / f'scale-{n}.db'}"
                if kind == "sqlite"
                else server.create_database()
                for n in sizes()
            }
            rates = {n: _fill_and_rebuild(url, n, templates) for n, url in urls.items()}
            costs = _measure(folder, urls, scale)
            for n in urls:
                print(f"  {kind} {n:,}: {rates[n]:,.0f} events/s rebuilt; {_brief(costs[n])}")
            records += _flatness(kind, costs)
            records.append(_rebuild_rate(kind, rates))
            if kind == "postgresql":
                records.append(_claim_target(costs))
        for kind, url in (
            ("sqlite", f"sqlite:///{folder / 'drain.db'}"),
            ("postgresql", server.create_database()),
        ):
            if kind in stores():
                records.append(_drain(folder, kind, url, templates))
        return records
    finally:
        server.stop()


# Histories, made by the service's own commands.


def _template_histories(folder: Path) -> list[list[Any]]:
    """Generators run through the service's commands, as workers and people would."""
    from ffwd.adapters.container import build_service

    svc = build_service("memory://", str(folder / "template-data"))
    table = {"name": "people", "path": str(folder / "people.csv"), "text_columns": ["note"]}
    spec = {"name": "template", "tables": [table], "training": {"max_epochs": 30}}
    histories = []
    for t in range(24):
        gid = svc.create_generator({**spec, "name": f"shop-{t:02d}"})
        if t % 3 == 0:
            svc.request_stop(gid, "text:people", requested_by="alice")
        ending = "cancelled" if t % 8 == 5 else "failed" if t % 8 == 7 else "succeeded"
        for phase in ("tabular", "text:people"):
            attempt = svc.start_phase(gid, phase, "worker-a")
            epochs = 14 + t % 5
            for epoch in range(1, epochs + 1):
                kept = {"id": f"a{attempt}-e{epoch}", "epoch": epoch, "step": epoch * 9}
                svc.record_progress(
                    gid,
                    phase,
                    attempt,
                    epoch=epoch,
                    step=epoch * 9,
                    elapsed_s=epoch * 1.5,
                    val_loss=2.0 / epoch,
                    kept=kept if epoch % 4 == 0 else None,
                )
                if phase == "text:people" and ending == "cancelled" and epoch == 6:
                    break
            if phase == "text:people" and ending == "cancelled":
                svc.cancel(gid, requested_by="bob")
                break
            if phase == "text:people" and ending == "failed":
                svc.fail_phase(gid, phase, attempt, "RuntimeError: out of memory")
                break
            svc.finish_phase(
                gid,
                phase,
                attempt,
                reasons=["max_epochs_reached"],
                checkpoint={"id": f"a{attempt}-e{epochs}", "epoch": epochs, "step": epochs * 9},
                epoch=epochs,
                step=epochs * 9,
                elapsed_s=epochs * 1.5,
            )
        if ending == "succeeded":
            for step in ("synthesis", "report"):
                attempt = svc.start_step(gid, step, "worker-a")
                svc.heartbeat(gid, step, attempt)
                svc.finish_step(gid, step, attempt, {step: f"{step}.out"})
        histories.append(list(svc.store.events(gid)))
    return histories


def _copy(events: list[Any], generator_id: UUID, start: datetime) -> list[Any]:
    """The same events for another generator, shifted to begin at `start`."""
    shift = start - events[0].timestamp
    copies = []
    for event in events:
        fields = dict(event.__dict__)
        fields["originator_id"] = generator_id
        fields["timestamp"] = event.timestamp + shift
        copy = object.__new__(type(event))
        object.__setattr__(copy, "__dict__", fields)
        copies.append(copy)
    return copies


def _fill(url: str, n: int, templates: list[list[Any]]) -> int:
    """Store `n` generators (copies of the templates), oldest first; returns the events."""
    from ffwd.adapters.storage.event_store import EventSourcedStore

    store = EventSourcedStore(url)
    codec, recorder = store._codec, store.recorder
    start = datetime.now(UTC) - timedelta(days=30)
    rows: list[tuple] = []
    for i in range(n):
        gid = uuid4()
        events = _copy(templates[i % len(templates)], gid, start + timedelta(seconds=i * 20))
        key = gid.hex if url.startswith("sqlite") else gid
        rows += [(key, *row) for row in codec.rows(events)]
    if url.startswith("sqlite"):
        with contextlib.closing(sqlite3.connect(url.removeprefix("sqlite:///"))) as db, db:
            db.executemany("INSERT INTO stored_events VALUES (?,?,?,?)", rows)
    else:
        import psycopg
        from psycopg import sql

        table = sql.Identifier(recorder.datastore.schema, recorder.events_table_name)
        columns = "(originator_id, originator_version, topic, state)"
        with psycopg.connect(url) as db, db.cursor() as cur:
            copy_sql = sql.SQL("COPY {} " + columns + " FROM STDIN").format(table)
            with cur.copy(copy_sql) as copy:
                for row in rows:
                    copy.write_row(row)
    store.close()
    return len(rows)


def _fill_and_rebuild(url: str, n: int, templates: list[list[Any]]) -> float:
    """Fill the store, then rebuild its summaries from the events: events/s rebuilt."""
    from ffwd.adapters.storage.event_store import EventSourcedStore

    events = _fill(url, n, templates)
    store = EventSourcedStore(url)
    started = time.perf_counter()
    assert store.rebuild_summaries() == (n, events)
    seconds = time.perf_counter() - started
    store.close()
    return events / seconds


# Measuring: every size in turn, call by call, so that all see the same machine.


def _measure(folder: Path, urls: dict[int, str], scale: float) -> dict[int, dict[str, float]]:
    from ffwd.adapters.container import build_service
    from ffwd.adapters.storage.event_store import EventSourcedStore
    from ffwd.application.summaries import SummaryQuery

    services, ids = {}, {}
    for n, url in urls.items():
        svc = build_service(url, str(folder / "data"))
        svc.store.close()
        svc.store = EventSourcedStore(url, cache_size=0)  # every view replays, at any size
        services[n] = svc
        ids[n] = [s.id for s in svc.store.summaries(SummaryQuery(limit=500))]
    calls = max(20, int(200 * scale))
    now = datetime.now(UTC)
    table = {"name": "people", "path": str(folder / "people.csv"), "text_columns": []}
    spec = {"name": "queued", "tables": [table]}
    per_size: dict[str, Callable[[int], Callable[[], object]]] = {
        "list_ms": lambda n: services[n].list_generators,
        "list_running_ms": lambda n: lambda: services[n].list_generators(state="running"),
        "prefix_ms": lambda n: lambda: services[n].resolve(str(random.choice(ids[n]))[:8]),
        "view_ms": lambda n: _views(services[n], ids[n]),
        "idle_poll_ms": lambda n: lambda: _poll(services[n], now),
    }
    costs: dict[int, dict[str, float]] = {n: {} for n in urls}
    for key, call in per_size.items():
        for n, ms in zip(urls, _alternating_ms([call(n) for n in urls], calls), strict=True):
            costs[n][key] = ms
    for n, ms in _claims(services, spec, max(10, int(40 * scale))).items():
        costs[n]["claim_ms"] = ms
    for svc in services.values():
        svc.store.close()
    for n, http_costs in _over_http(urls, folder, ids, max(10, int(50 * scale))).items():
        costs[n] |= http_costs
    for n, process_costs in _processes(urls, folder, max(3, int(7 * scale))).items():
        costs[n] |= process_costs
    return costs


def _views(svc: Any, ids: list[UUID]) -> Callable[[], object]:
    """Views of the newest generators in turn: the k-th newest is a copy of the same
    template at every size (sizes are multiples of the templates, less one), so every size
    replays the same histories."""
    turn = iter(range(10**9))
    return lambda: svc.get_view(ids[next(turn) % len(ids)])


def _alternating_ms(calls: list[Callable[[], object]], n: int) -> list[float]:
    """The median milliseconds of each call, the calls taking turns (ABC CBA ...)."""
    from benchmarks.timing import alternating

    alternating(min(5, n), *calls)  # warm up
    return [statistics.median(t) * 1000 for t in alternating(n, *calls)]


def _claims(services: dict[int, Any], spec: dict, rounds: int) -> dict[int, float]:
    """Median ms of one claim of the only queued generator: found through the work queue,
    then started. It is created before the clock starts and cancelled after it stops; the
    sizes take turns."""
    took: dict[int, list[float]] = {n: [] for n in services}
    order = list(services)
    for _ in range(rounds):
        for n in order:
            svc = services[n]
            gid = svc.create_generator(spec)
            started = time.perf_counter()
            found = svc.store.claimable(datetime.now(UTC), 16)
            svc.start_phase(found[0], "tabular", "bench")
            took[n].append((time.perf_counter() - started) * 1000)
            assert found == [gid], found
            svc.cancel(gid, requested_by="bench")
        order.reverse()
    return {n: statistics.median(times) for n, times in took.items()}


def _poll(svc: Any, now: datetime) -> None:
    """What an idle worker does each poll: look for work, and for cancels to sweep."""
    assert svc.store.claimable(now, 16) == []
    svc.store.cancelled_since(now - timedelta(minutes=10), 16)


def _over_http(
    urls: dict[int, str], folder: Path, ids: dict[int, list[UUID]], n: int
) -> dict[int, dict[str, float]]:
    """The list, the web index and a view over HTTP, from one server per size."""
    from ffwd.adapters.http.bench import _free_port, _wait_for

    servers, connections = [], {}
    try:
        for size, url in urls.items():
            port = _free_port()
            code = (
                "from ffwd.adapters.http.serve import serve; "
                f"serve({url!r}, {str(folder / 'data')!r}, '127.0.0.1', {port})"
            )
            server = subprocess.Popen(
                [sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
            )
            servers.append(server)
            _wait_for(port, server, timeout_s=300)
            connections[size] = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

        def get(size: int, path: str) -> Callable[[], None]:
            conn = connections[size]

            def call() -> None:
                conn.request("GET", path)
                response = conn.getresponse()
                body = response.read()
                assert response.status == 200, body[:300]

            return call

        paths = {
            "api_list_ms": lambda size: "/api/generators",
            "web_index_ms": lambda size: "/",
            "api_view_ms": lambda size: f"/api/generators/{ids[size][0]}",
        }
        costs: dict[int, dict[str, float]] = {size: {} for size in urls}
        for key, path in paths.items():
            calls = [get(size, path(size)) for size in urls]
            for size, ms in zip(urls, _alternating_ms(calls, n), strict=True):
                costs[size][key] = ms
        return costs
    finally:
        for conn in connections.values():
            conn.close()
        for server in servers:
            server.terminate()
            server.wait(30)


def _processes(urls: dict[int, str], folder: Path, n: int) -> dict[int, dict[str, float]]:
    """`ffwd list --json` and an idle `ffwd worker --once`, as a user runs them."""

    def ffwd(url: str, *args: str) -> Callable[[], None]:
        env = {**os.environ, "FFWD_STORE": url, "FFWD_DATA": str(folder / "data")}
        return lambda: subprocess.run(
            [sys.executable, "-m", "ffwd", *args], env=env, check=True, capture_output=True
        )

    costs: dict[int, dict[str, float]] = {size: {} for size in urls}
    for key, args in (
        ("cli_list_ms", ("list", "--json")),
        ("cli_idle_worker_ms", ("worker", "--once")),
    ):
        calls = [ffwd(url, *args) for url in urls.values()]
        for size, ms in zip(urls, _alternating_ms(calls, n), strict=True):
            costs[size][key] = ms
    return costs


def _brief(costs: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:,.1f}" for k, v in costs.items())


# Records.

NAMES = {
    "list_ms": "list, first page (service)",
    "list_running_ms": "list of running generators (service)",
    "prefix_ms": "id-prefix lookup",
    "view_ms": "view by id, not cached",
    "idle_poll_ms": "an idle worker's look for work",
    "claim_ms": "a claim of one queued generator",
    "api_list_ms": "GET /api/generators",
    "web_index_ms": "GET / (the web index)",
    "api_view_ms": "GET /api/generators/{id}",
    "cli_list_ms": "`ffwd list --json` (a process)",
    "cli_idle_worker_ms": "idle `ffwd worker --once` (a process)",
}


def _flatness(kind: str, costs: dict[int, dict[str, float]]) -> list[Record]:
    small, large = min(costs), max(costs)
    records = []
    for key, what in NAMES.items():
        at_small, at_large = costs[small][key], costs[large][key]
        records.append(
            Record(
                name=f"scale_{kind}_{key.removesuffix('_ms')}",
                line=f"{kind}, {what}: {at_large:.2f} ms with {large:,} generators vs "
                f"{at_small:.2f} ms with {small:,}",
                measured=at_large,
                reference=at_small,
                unit="ms",
                ratio=at_large / at_small,
                op="<=",
                target=FLAT,
                details={str(n): c[key] for n, c in costs.items()},
            )
        )
    return records


def _rebuild_rate(kind: str, rates: dict[int, float]) -> Record:
    slowest = min(rates.values())
    return Record(
        name=f"scale_{kind}_rebuild",
        line=f"{kind}: summaries rebuilt at {slowest:,.0f} events/s at the slowest size "
        f"({', '.join(f'{n:,}: {r:,.0f}/s' for n, r in rates.items())}) vs the 20,000 "
        "events/s asked for",
        measured=slowest,
        reference=20_000,
        unit="events/s",
        ratio=slowest / 20_000,
        op=">=",
        target=1.0,
        details={str(n): r for n, r in rates.items()},
    )


def _claim_target(costs: dict[int, dict[str, float]]) -> Record:
    large = max(costs)
    claim = costs[large]["claim_ms"]
    return Record(
        name="scale_postgresql_claim_budget",
        line=f"postgresql, a claim in process with {large:,} generators: {claim:.1f} ms vs the "
        "50 ms budget",
        measured=claim,
        reference=50.0,
        unit="ms",
        ratio=claim / 50.0,
        op="<=",
        target=1.0,
    )


# Draining queued generators.


class _Instant:
    """An engine whose phases end at their first boundary: what the queue costs alone."""

    name = "instant"

    def train(self, job: Any, control: Any) -> Any:
        from ffwd.application.training import PhaseOutcome

        decision = control.boundary(1, 1)
        checkpoint = {"id": "s1", "epoch": 1, "step": 1}
        return PhaseOutcome(checkpoint=checkpoint, epoch=1, step=1, reasons=decision.reasons)

    def synthesize(self, generator_id: str, spec: Any, checkpoints: Any, out_dir: str) -> dict:
        return {}

    def discard(self, generator_id: str) -> None:
        pass


class _NoReport:
    def write(self, spec: Any, synthetic: Any, out_dir: str) -> dict:
        return {}


def _drain(folder: Path, kind: str, url: str, templates: list[list[Any]]) -> Record:
    from ffwd.adapters.container import build_service
    from ffwd.application.worker import Worker

    _fill(url, 1_000, templates)
    svc = build_service(url, str(folder / f"drain-{kind}"))
    svc.store.rebuild_summaries()
    svc.engines["instant"] = _Instant()
    spec = {
        "name": "drained",
        "engine": "instant",
        "tables": [{"name": "people", "path": str(folder / "people.csv"), "text_columns": []}],
    }
    seconds = {}
    for count in (200, 400):
        for _ in range(count):
            svc.create_generator(spec)
        worker = Worker(svc, svc.orchestrator(reports=_NoReport()), poll_s=0.01)
        started = time.perf_counter()
        worker.run(once=True)
        seconds[count] = time.perf_counter() - started
    svc.store.close()
    ratio = seconds[400] / seconds[200]
    return Record(
        name=f"scale_{kind}_drain",
        line=f"{kind}: one worker drains 400 queued generators in {seconds[400]:.1f} s vs 200 "
        f"in {seconds[200]:.1f} s (1,000 finished ones stored)",
        measured=seconds[400],
        reference=seconds[200],
        unit="s",
        ratio=ratio,
        op="<=",
        target=2.2,
    )
