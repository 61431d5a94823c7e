"""SIGTERM to a worker in the middle of a phase (a spot instance's notice, a node drain), ten
times over a run, on PostgreSQL and on SQLite, while other processes stop phases and cancel
generators: the phase is handed back at its next step boundary with its checkpoint, another
worker resumes it at once (not after the lease), its counters go on, and every history
keeps every invariant (RULES.md, "Preemption")."""

import json
import os
import random
import subprocess
import sys
import threading
import time
from pathlib import Path
from uuid import UUID

import pytest

from tests.integration.workers.conftest import ROOT, all_ended, views, wait_until
from tests.integration.workers.histories import check_history

PREEMPTIONS = 10
WORKERS = 3
GENERATORS = 14
LEASE_S = 30.0  # a takeover would wait this long: a release must not


@pytest.fixture(params=["postgresql", "sqlite"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return request.getfixturevalue("fresh_postgres_url")


class Others:
    """Other processes at the page: `ffwd stop` of a random phase, or (one in four) `ffwd
    cancel` of a random generator, twice for each preemption. Paced by the preemptions, not
    the clock: on a slow machine a clock-paced crowd would cancel the work away first."""

    ACTIONS_PER_PREEMPTION = 2

    def __init__(self, store: str, data: Path, gids: list) -> None:
        self.env = {**os.environ, "FFWD_STORE": store, "FFWD_DATA": str(data)}
        self.gids, self.done = gids, threading.Event()
        self.due = threading.Semaphore(0)
        self.actions = 0
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def preempted(self) -> None:
        for _ in range(self.ACTIONS_PER_PREEMPTION):
            self.due.release()

    def _run(self) -> None:
        rng = random.Random(7)
        while True:
            while not self.due.acquire(timeout=0.1):
                if self.done.is_set():
                    return
            gid = str(rng.choice(self.gids))
            if rng.random() < 0.25:
                args = ["cancel", gid]
            else:
                args = ["stop", gid, rng.choice(["tabular", "text:people", "text:orders"])]
            subprocess.run([sys.executable, "-m", "ffwd", *args], env=self.env, capture_output=True)
            self.actions += 1

    def end(self) -> None:
        self.done.set()
        self.thread.join(60)


def test_sigterm_hands_phases_back_and_another_worker_resumes_them_at_once(
    store: str, tmp_path: Path, tables, open_service, workers_on
) -> None:
    data = tmp_path / "data"
    svc = open_service(store, data)
    gids = [
        svc.create_generator(tables.spec(f"g{i}", phases=2 + i % 2, seconds=2.5))
        for i in range(GENERATORS)
    ]
    pool = workers_on(store, data)
    pool.lease_s = LEASE_S
    pool.start(WORKERS)
    others = Others(store, data, gids)

    preempted: list[tuple[str, object, str, int]] = []  # worker, generator, phase, attempt
    deadline = time.monotonic() + 240
    while len(preempted) < PREEMPTIONS and time.monotonic() < deadline:
        held = {}
        for view in views(svc, gids):
            for p in view.phases:
                if p.state == "running" and p.step > 0:
                    worker = svc.get_generator(view.id).phases[p.id].worker
                    proc = pool.by_name(worker)
                    if proc is not None and proc.poll() is None:
                        held[worker] = (view.id, p.id, p.attempt, proc)
        if not held:
            time.sleep(0.05)
            continue
        worker, (gid, phase, attempt, proc) = sorted(held.items())[0]
        proc.send_signal(15)  # SIGTERM
        pool.start(1)  # a replacement, as the platform would
        assert proc.wait(timeout=60) == 0, f"{worker} did not exit cleanly after SIGTERM"
        preempted.append((worker, gid, phase, attempt))
        others.preempted()
    others.end()
    assert len(preempted) == PREEMPTIONS, f"only {len(preempted)} preemptions before the end"
    said = "".join(log.read_text() for log in pool.logs.glob("worker-*.log"))
    assert said.count("terminated: handing the parts in hand back") >= PREEMPTIONS

    wait_until(lambda: all_ended(svc, gids), 240, "every generator to end")
    assert set(pool.terminate().values()) == {0}

    releases = 0
    for gid in gids:
        events = list(svc.store.events(gid))
        facts = check_history(events, live=svc.store.get(gid))
        assert facts["state"] in ("succeeded", "cancelled"), facts["state"]
        for i, e in enumerate(events):
            if type(e).__name__ != "PhaseReleased":
                continue
            releases += 1
            # Resumed by another worker at once: no lease to wait out.
            resumed = next(
                (
                    later
                    for later in events[i + 1 :]
                    if type(later).__name__ == "PhaseStarted" and later.phase == e.phase
                ),
                None,
            )
            if resumed is not None:
                assert resumed.worker != e.worker
                gap = (resumed.timestamp - e.timestamp).total_seconds()
                assert gap < LEASE_S, f"{e.phase} of {gid} waited {gap:.1f} s to resume"
                assert resumed.attempt == e.attempt + 1
    # Each preempted worker's phase was released (or ended at that very boundary, or was
    # cancelled by the others in the meantime): never left to a lease.
    for worker, gid, phase, attempt in preempted:
        history = list(svc.store.events(gid))
        handed = [
            e
            for e in history
            if type(e).__name__ == "PhaseReleased" and (e.phase, e.attempt) == (phase, attempt)
        ]
        ended = [
            e
            for e in history
            if type(e).__name__ in ("PhaseSucceeded", "PhaseFailed", "Cancelled")
            and getattr(e, "phase", phase) == phase
            and getattr(e, "attempt", attempt) == attempt
        ]
        taken = [e for e in history if type(e).__name__ == "TakenOver" and e.part == phase]
        assert handed or ended, f"{phase} of {gid}: {worker} left it to the lease"
        assert not taken, f"{phase} of {gid} was taken over after a release"
    assert releases >= PREEMPTIONS // 2
    print(f"\n{releases} releases, {others.actions} stops and cancels from other processes")


def test_ffwd_run_hands_its_phase_back_on_sigterm(tmp_path: Path, tables, open_service):
    """`ffwd run` in a terminal that is terminated: its running phase is handed back and the
    command exits 143; a worker then finishes the generator."""
    store, data = f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "data"
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(tables.spec("run-here", seconds=10)))
    env = {**os.environ, "FFWD_STORE": store, "FFWD_DATA": str(data), "PYTHONUNBUFFERED": "1"}
    run = subprocess.Popen(
        [sys.executable, "-m", "ffwd", "run", str(spec)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    gid = UUID(run.stdout.readline().strip())
    svc = open_service(store, data)
    wait_until(lambda: svc.get_view(gid).phases[0].step > 0, 60, "the phase to train")
    run.send_signal(15)
    _, err = run.communicate(timeout=60)
    assert run.returncode == 143, err
    assert "handed back" in err
    tabular = svc.get_view(gid).phases[0]
    assert (tabular.state, tabular.preemptions) == ("pending", 1)
    worked = subprocess.run(
        [sys.executable, "-m", "ffwd", "worker", "--once"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert worked.returncode == 0, worked.stderr
    assert svc.get_view(gid).phases[0].attempt == 2
    check_history(list(svc.store.events(gid)), live=svc.store.get(gid))
    history = subprocess.run(
        [sys.executable, "-m", "ffwd", "history", str(gid)],
        cwd=ROOT,
        env={**env, "COLUMNS": "400"},
        capture_output=True,
        text=True,
    ).stdout
    released = next(e for e in svc.store.events(gid) if type(e).__name__ == "PhaseReleased")
    assert f"preempted at epoch {released.epoch}, step {released.step}" in history
    assert "resumed by " in history
