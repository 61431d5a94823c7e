"""Concurrent commands on ONE generator: no event is lost, none is doubled (RULES.md inv. 12).

Eight threads hammer one running phase with progress updates, stop requests and cancels,
through one shared service or through one service each (as separate processes would), on
SQLite and on PostgreSQL. Each progress command increments the phase's step counter from
the state it read, so a lost update would show as a gap or a repeat in the steps.
"""

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ffwd.adapters.container import build_service
from ffwd.application.service import GeneratorService
from ffwd.domain import errors
from ffwd.domain.generator import Generator

THREADS = 8
PROGRESS_PER_THREAD = 12

STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def open_service(tmp_path: Path) -> Iterator[Callable[..., GeneratorService]]:
    opened: list[GeneratorService] = []

    def open_(url: str, **kwargs: Any) -> GeneratorService:
        svc = build_service(store=url, data=str(tmp_path / "data"))
        opened.append(GeneratorService(svc.store, svc.check_spec, **kwargs) if kwargs else svc)
        return opened[-1]

    yield open_
    for svc in opened:
        svc.store.close()


def progress(tag: int) -> Callable[[Generator], None]:
    """One more step on the running tabular phase, tagged so its event can be found."""

    def command(g: Generator) -> None:
        tabular = g.phases["tabular"]
        g.record_progress(
            "tabular", 1, epoch=1, step=tabular.step + 1, elapsed_s=1.0, val_loss=float(tag)
        )

    return command


REJECTIONS = (errors.GeneratorCancelled, errors.Conflict)  # both write nothing


@pytest.mark.parametrize("services", [1, THREADS], ids=["one-service", "service-per-thread"])
def test_concurrent_commands_lose_no_event(
    store_url: str,
    services: int,
    open_service: Callable[..., GeneratorService],
    sample_spec: dict,
) -> None:
    pool = [open_service(store_url) for _ in range(services)]
    gid = pool[0].create_generator(sample_spec)
    assert pool[0].start_phase(gid, "tabular", "w1") == 1

    outcomes: list[tuple[str, int, str]] = []  # (command, tag, "ok" or the error code)
    unexpected: list[BaseException] = []
    lock = threading.Lock()
    start = threading.Barrier(THREADS)

    def attempt(kind: str, tag: int, command: Callable[[], Any]) -> None:
        try:
            command()
        except REJECTIONS as e:
            outcome = e.code
        else:
            outcome = "ok"
        with lock:
            outcomes.append((kind, tag, outcome))

    def worker(i: int) -> None:
        svc = pool[i % services]
        start.wait()
        try:
            for j in range(PROGRESS_PER_THREAD):
                if j == PROGRESS_PER_THREAD // 2:  # every thread asks for the stop
                    attempt("stop", i, lambda: svc.request_stop(gid, "tabular", f"t{i}"))
                if i % 4 == 0 and j == PROGRESS_PER_THREAD - 2:  # two threads cancel
                    attempt("cancel", i, lambda: svc.cancel(gid, requested_by=f"t{i}"))
                tag = i * 1000 + j
                attempt("progress", tag, lambda: svc.execute(gid, progress(tag)))  # noqa: B023
        except BaseException as e:  # collected, asserted below
            with lock:
                unexpected.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a worker hung"
    assert unexpected == []
    assert len(outcomes) == THREADS * (PROGRESS_PER_THREAD + 1) + 2

    def ok(kind: str) -> list[int]:
        return [tag for k, tag, outcome in outcomes if k == kind and outcome == "ok"]

    accepted = ok("progress")
    rejected = [tag for kind, tag, outcome in outcomes if kind == "progress" and outcome != "ok"]
    stoppers, cancellers = {f"t{i}" for i in ok("stop")}, {f"t{i}" for i in ok("cancel")}
    assert accepted, "the cancel came before any progress: the test proved nothing"

    for svc in pool:  # every service (process) reads the same history
        history = svc.history(gid)
        assert [h.version for h in history] == list(range(1, len(history) + 1))
        progressed = [h for h in history if h.type == "PhaseProgressed"]
        tags = [int(h.data["val_loss"]) for h in progressed]
        assert sorted(tags) == sorted(accepted)  # every accepted command exactly once
        assert not set(tags) & set(rejected)  # no rejected command wrote
        assert [h.data["step"] for h in progressed] == list(range(1, len(accepted) + 1))
        stops = [h for h in history if h.type == "StopRequested"]
        cancels = [h for h in history if h.type == "Cancelled"]
        assert len(stops) == (1 if stoppers else 0)  # the other stops were no-ops
        assert {(h.requested_by in stoppers, h.data["phase_state_then"]) for h in stops} <= {
            (True, "running")
        }
        assert len(cancels) == (1 if cancellers else 0)  # a second cancel is a no-op
        assert {h.requested_by for h in cancels} <= cancellers
        assert len(history) == 3 + len(accepted) + len(stops) + len(cancels)
        assert [h.type for h in history[:3]] == ["Created", "Started", "PhaseStarted"]

        view = svc.get_view(gid)
        assert view.version == len(history)
        tabular = view.phases[0]
        assert (tabular.step, tabular.stop_requested) == (len(accepted), bool(stoppers))
        if cancels:
            assert history[-1].type == "Cancelled"  # nothing is accepted after a cancel
            assert (view.state, tabular.state, view.phases[1].state) == (
                "cancelled",
                "cancelled",
                "cancelled",
            )
        else:
            assert (view.state, tabular.state) == ("running", "stopping" if stoppers else "running")


class Interferer:
    """A command that, while it runs, lets another writer store an event first."""

    def __init__(self, other: GeneratorService, gid: UUID, interferences: int) -> None:
        self.other, self.gid, self.left, self.calls = other, gid, interferences, 0

    def __call__(self, g: Generator) -> bool:
        self.calls += 1
        if self.left:
            self.left -= 1
            self.other.execute(self.gid, progress(self.calls))
        return g.request_stop("tabular", "alice")


def test_conflict_is_raised_only_after_the_retries_are_exhausted(
    store_url: str, open_service: Callable[..., GeneratorService], sample_spec: dict
) -> None:
    svc = open_service(store_url, max_retries=3)
    other = open_service(store_url)
    gid = svc.create_generator(sample_spec)
    svc.start_phase(gid, "tabular", "w1")

    always = Interferer(other, gid, interferences=10)
    with pytest.raises(errors.Conflict) as raised:
        svc.execute(gid, always)
    assert raised.value.code == "conflict"
    assert always.calls == 3
    history = svc.history(gid)
    assert [h.type for h in history] == ["Created", "Started", "PhaseStarted"] + [
        "PhaseProgressed"
    ] * 3  # the three interfering writes, and nothing from the command that gave up
    assert svc.get_view(gid).phases[0].stop_requested is False

    twice = Interferer(other, gid, interferences=2)
    assert svc.execute(gid, twice) is True  # the third and last attempt wins
    assert twice.calls == 3
    history = svc.history(gid)
    assert [h.type for h in history[-3:]] == ["PhaseProgressed"] * 2 + ["StopRequested"]
    assert [h.data["step"] for h in history if h.type == "PhaseProgressed"] == [1, 2, 3, 4, 5]
    assert other.get_view(gid).phases[0].state == "stopping"
