"""Fault tests with real processes: `ffwd worker` subprocesses on one store, tiny generators,
and a test process that stops, cancels, kills and restarts things around them."""

import os
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ffwd.adapters.container import build_service
from ffwd.application.service import GeneratorService
from ffwd.application.views import GeneratorView

ROOT = Path(__file__).resolve().parents[3]
TERMINAL = ("succeeded", "failed", "cancelled")
WORKER_LEASE_S = 2.0

PEOPLE = "id,age,city,note\n" + "".join(
    f"{i},{20 + i % 40},{['Paris', 'Rome', 'Oslo'][i % 3]},"
    f"{['likes rain', 'reads maps', 'grows plants'][i % 3]} {i % 5}\n"
    for i in range(40)
)
ORDERS = "k,qty,review\n" + "".join(
    f"{i},{i % 4},{['a nice lamp', 'a soft rug', 'a big desk'][i % 3]}\n" for i in range(30)
)


def wait_until(
    condition: Callable[[], Any], timeout_s: float, what: str, every_s: float = 0.1
) -> Any:
    """Poll `condition` until it returns something true; errors while polling (the store
    restarting) count as "not yet". Fails the test with `what` on timeout."""
    deadline = time.monotonic() + timeout_s
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except Exception as e:  # the store may be restarting under the test
            last_error, result = e, None
        if result:
            return result
        time.sleep(every_s)
    pytest.fail(f"timed out after {timeout_s:.0f} s waiting for {what} (last error: {last_error})")


class Tables:
    """Tiny CSVs and specs with 2 phases (one table) or 3 (two tables), each phase running
    about `seconds` (a time limit; no early stopping)."""

    def __init__(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.people, self.orders = folder / "people.csv", folder / "orders.csv"
        self.people.write_text(PEOPLE)
        self.orders.write_text(ORDERS)

    def spec(self, name: str, phases: int = 2, seconds: float = 1.0) -> dict[str, Any]:
        tables = [{"name": "people", "path": str(self.people), "text_columns": ["note"]}]
        if phases == 3:
            tables.append({"name": "orders", "path": str(self.orders), "text_columns": ["review"]})
        return {
            "name": name,
            "tables": tables,
            "training": {
                "max_epochs": 100_000,
                "max_training_time_s": seconds,
                "early_stopping_patience": None,
                "batch_size": 8,
            },
            "synthesis": {"rows": {"people": 30, "orders": 20}} if phases == 3 else {},
        }


class Workers:
    """`ffwd worker` processes on one store; each one's output goes to its own log file."""

    def __init__(
        self,
        store: str,
        data: Path,
        logs: Path,
        lease_s: float = WORKER_LEASE_S,
        *,
        options: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ):
        """`options`: more of `ffwd worker`'s options (`--ray ADDRESS`); `env`: more
        environment variables."""
        self.store, self.data, self.logs, self.lease_s = store, data, logs, lease_s
        self.options, self.env = options, env or {}
        logs.mkdir(parents=True, exist_ok=True)
        self.procs: list[subprocess.Popen] = []
        self.killed: list[subprocess.Popen] = []
        self.host = socket.gethostname()

    def start(self, count: int = 1) -> list[subprocess.Popen]:
        started = []
        for _ in range(count):
            n = len(self.procs) + len(self.killed)
            out = (self.logs / f"worker-{n}.log").open("w")
            proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "ffwd.adapters.cli",
                    "worker",
                    "--concurrency",
                    "1",
                    "--poll-s",
                    "0.1",
                    "--lease-s",
                    str(self.lease_s),
                    "--store",
                    self.store,
                    "--data",
                    str(self.data),
                    *self.options,
                ],
                cwd=ROOT,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            out.close()
            self.procs.append(proc)
            started.append(proc)
        return started

    def name(self, proc: subprocess.Popen) -> str:
        """The worker name its claims carry in the history."""
        return f"{self.host}:{proc.pid}"

    def by_name(self, name: str) -> subprocess.Popen | None:
        return next((p for p in self.procs if self.name(p) == name), None)

    def kill(self, proc: subprocess.Popen) -> None:
        """kill -9: no cleanup, no last report."""
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        self.procs.remove(proc)
        self.killed.append(proc)

    def alive(self) -> list[subprocess.Popen]:
        return [p for p in self.procs if p.poll() is None]

    def terminate(self, timeout_s: float = 30) -> dict[str, int | None]:
        """SIGTERM to every live worker, then wait: {name: exit code}."""
        for proc in self.alive():
            proc.send_signal(signal.SIGTERM)
        codes = {}
        deadline = time.monotonic() + timeout_s
        for proc in self.procs:
            try:
                codes[self.name(proc)] = proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                codes[self.name(proc)] = None
        return codes

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        parts = []
        for path in sorted(self.logs.glob("worker-*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"--- {path.name}\n" + "\n".join(text))
        return "\n".join(parts)


class FeedLog:
    """Every event the store's feed delivers to this process, as (generator, version)."""

    def __init__(self, svc: GeneratorService) -> None:
        self.delivered: list[tuple[UUID, int]] = []
        self._stop = svc.feed.follow(self._hear)

    def _hear(self, events) -> None:
        self.delivered += [(e.originator_id, e.originator_version) for e in events]

    def stop(self) -> None:
        if self._stop is not None:
            self._stop()
            self._stop = None

    def duplicates(self) -> list[tuple[UUID, int]]:
        return [key for key, n in Counter(self.delivered).items() if n > 1]


@pytest.fixture
def feed_log() -> Iterator[Callable[[GeneratorService], FeedLog]]:
    """`feed_log(svc)`: a FeedLog on the service's feed, stopped at the end of the test."""
    logs: list[FeedLog] = []

    def start(svc: GeneratorService) -> FeedLog:
        logs.append(FeedLog(svc))
        return logs[-1]

    yield start
    for log in logs:
        log.stop()


@pytest.fixture
def tables(tmp_path: Path) -> Tables:
    return Tables(tmp_path / "tables")


@pytest.fixture
def open_service() -> Iterator[Callable[[str, Path], GeneratorService]]:
    opened: list[GeneratorService] = []

    def open_(store: str, data: Path) -> GeneratorService:
        svc = build_service(store=store, data=str(data))
        opened.append(svc)
        return svc

    yield open_
    for svc in opened:
        svc.store.close()


@pytest.fixture
def workers_on(tmp_path: Path) -> Iterator[Callable[[str, Path], Workers]]:
    """`workers_on(store, data, **options)`: a Workers set, every process of it killed at the
    end and the logs' tails printed when the test failed."""
    made: list[Workers] = []

    def make(store: str, data: Path, **options: Any) -> Workers:
        pool = Workers(store, data, tmp_path / f"logs-{len(made)}", **options)
        made.append(pool)
        return pool

    yield make
    for pool in made:
        pool.kill_all()
        print(pool.log_tail())


def views(svc: GeneratorService, gids: list[UUID]) -> list[GeneratorView]:
    return [svc.get_view(g) for g in gids]


def all_ended(svc: GeneratorService, gids: list[UUID]) -> bool:
    return all(v.state in TERMINAL for v in views(svc, gids))


def files_of(data: Path, gid: UUID) -> list[Path]:
    folders = [data / "checkpoints" / str(gid), data / "outputs" / str(gid)]
    return sorted(p for f in folders if f.exists() for p in f.rglob("*") if p.is_file())
