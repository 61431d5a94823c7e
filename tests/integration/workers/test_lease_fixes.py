"""Workers and leases, one fault at a time, in one process: each test shows a bug the fault
tests ran into (or would have), fixed in the orchestrator, the worker or a follower."""

import itertools
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import UUID

import pytest

from ffwd.adapters.checkpoints import FileCheckpointStore
from ffwd.adapters.container import build_service
from ffwd.adapters.engines.reference.engine import ReferenceEngine
from ffwd.adapters.storage.follower import PollingFollower
from ffwd.application.service import GeneratorService
from ffwd.application.training import PhaseJob, PhaseOutcome
from ffwd.application.worker import Worker
from tests.e2e.data import write_customers
from tests.e2e.fakes import FakeEngine, outcome, until_stopped
from tests.integration.engines.controls import ScriptedControl
from tests.integration.workers.conftest import PEOPLE, files_of, wait_until

LATER = timedelta(hours=1)  # every lease has run out by then


class StoreAway(Exception):
    """What a store says while it restarts (e.g. eventsourcing's OperationalError)."""


def fails_first(calls: int, real):
    """`real`, except that its first `calls` calls raise StoreAway."""
    left = [calls]

    def call(*args, **kwargs):
        if left[0] > 0:
            left[0] -= 1
            raise StoreAway("the store is restarting")
        return real(*args, **kwargs)

    return call


@pytest.fixture
def csv(tmp_path: Path) -> Path:
    path = tmp_path / "people.csv"
    path.write_text(PEOPLE)
    return path


@pytest.fixture
def make(tmp_path: Path, csv: Path):
    """`make(train, store=...)`: a service with a fake engine and one queued generator
    (one tabular phase, then synthesis and report)."""
    opened: list[GeneratorService] = []

    def make_(train=until_stopped, store: str = "memory://", **training):
        svc = build_service(store, str(tmp_path / "data"))
        opened.append(svc)
        svc.engines["fake"] = FakeEngine(train)
        spec = {
            "name": "fault",
            "engine": "fake",
            "tables": [{"name": "people", "path": str(csv), "text_columns": []}],
            "training": {"max_epochs": 3, "early_stopping_patience": None, **training},
        }
        return svc, svc.create_generator(spec)

    yield make_
    for svc in opened:
        svc.store.close()


def types(svc: GeneratorService, gid: UUID) -> list[str]:
    return [h.type for h in svc.history(gid)]


def test_a_worker_goes_on_after_the_store_failed_to_answer(make) -> None:
    """Was: one failed look for work ended the worker's thread, and with one thread the
    worker (a PostgreSQL restart stopped every worker for good)."""
    svc, gid = make()
    svc.store.claimable = fails_first(2, svc.store.claimable)
    Worker(svc, svc.orchestrator(), poll_s=0.01).run(once=True)
    assert svc.get_view(gid).state == "succeeded"


def test_a_look_for_work_reads_no_finished_generator(make) -> None:
    """Was: every look for work (every poll of an idle worker, every claim) read every
    generator ever stored, so its cost grew with the history, not with the work. Now the
    store's work queue names the claimable ones, and only those (and, once, generators
    cancelled in the last minutes, whose files are swept up) are read."""
    svc, first = make()
    spec = svc.get_generator(first).spec
    ended = [first, *(svc.create_generator(spec) for _ in range(4))]
    for gid in ended:
        svc.cancel(gid)
    live = svc.create_generator(spec)
    reads: list[UUID] = []
    get = svc.store.get
    svc.store.get = lambda gid, version=None: (reads.append(gid), get(gid, version))[1]
    tried: list[UUID] = []
    pipelines = svc.orchestrator()
    pipelines.work_on = lambda gid, now: tried.append(gid) or False
    worker = Worker(svc, pipelines, poll_s=0.01)
    assert worker._work_once() is False
    assert tried == [live]
    assert set(reads) == set(ended)  # swept once each: cancelled minutes ago at most
    reads.clear()
    assert worker._work_once() is False
    assert tried == [live, live] and reads == []


def test_a_progress_report_the_store_failed_to_take_does_not_fail_the_phase(make) -> None:
    """Was: the store's error came out of `boundary()` into the engine, and the phase
    failed as if training had broken."""
    svc, gid = make(max_epochs=4)
    svc.record_progress = fails_first(1, svc.record_progress)
    svc.orchestrator(progress_interval_s=0).run(gid)
    view = svc.get_view(gid)
    assert (view.state, view.phases[0].reasons) == ("succeeded", ["max_epochs_reached"])
    assert "PhaseProgressed" in types(svc, gid)


def test_the_end_of_a_phase_and_of_a_step_are_stored_once_the_store_answers(make) -> None:
    """Was: a store error on the final report left the part claimed and unreported (and
    ended the worker's thread)."""
    svc, gid = make()
    svc.finish_phase = fails_first(2, svc.finish_phase)
    svc.finish_step = fails_first(2, svc.finish_step)
    svc.orchestrator().run(gid)
    assert svc.get_view(gid).state == "succeeded"
    assert types(svc, gid).count("PhaseSucceeded") == 1


def test_a_step_heartbeat_goes_on_after_the_store_failed_once(make) -> None:
    """Was: the heartbeat thread ended at the first store error, so the step's lease ran out
    and another worker ran the step a second time."""
    svc, gid = make()
    engine = svc.engines["fake"]
    real = engine.synthesize
    engine.synthesize = lambda *args: (time.sleep(0.5), real(*args))[1]
    svc.heartbeat = fails_first(1, svc.heartbeat)
    svc.orchestrator(lease_s=0.15).run(gid)  # a beat every 50 ms
    history = svc.history(gid)
    beats = [h for h in history if h.type == "Heartbeat" and h.data["part"] == "synthesis"]
    assert len(beats) >= 3
    assert svc.get_view(gid).state == "succeeded"


class CheckedCheckpoints(FileCheckpointStore):
    """Checkpoint files that note every deletion of the checkpoint a takeover would resume
    from (the one the store names as kept last)."""

    def __init__(self, root: str) -> None:
        super().__init__(root)
        self.svc: GeneratorService | None = None
        self.violations: list[str] = []
        self.deleted = 0

    def delete(self, generator_id: str, phase_id: str, checkpoint_id: str) -> None:
        kept = self.svc.get_generator(UUID(generator_id)).phases[phase_id].last_kept
        if kept and kept["id"] == checkpoint_id:
            self.violations.append(checkpoint_id)
        self.deleted += 1
        super().delete(generator_id, phase_id, checkpoint_id)


def test_the_checkpoint_a_takeover_resumes_from_is_never_deleted(tmp_path: Path) -> None:
    """Was: progress carried the kept checkpoint every second, but the engine deleted it as
    soon as it kept a better one; a worker killed in between left a takeover nothing to
    resume from (FileNotFoundError, the phase failed)."""
    svc = build_service("memory://", str(tmp_path / "data"))
    checkpoints = CheckedCheckpoints(str(tmp_path / "data"))
    checkpoints.svc = svc
    svc.engines["reference"] = ReferenceEngine(checkpoints)
    customers = write_customers(tmp_path / "customers.csv")  # a structure worth learning
    gid = svc.create_generator(
        {
            "name": "kept",
            "tables": [{"name": "customers", "path": str(customers), "text_columns": []}],
            # A small learning rate: the validation loss improves for several epochs, so
            # better checkpoints supersede older ones (at 0.05 it often peaks at epoch 1).
            "training": {
                "max_epochs": 12,
                "early_stopping_patience": None,
                "batch_size": 32,
                "learning_rate": 0.01,
            },
        }
    )
    svc.orchestrator(progress_interval_s=0).run(gid)
    assert svc.get_view(gid).state == "succeeded"
    assert checkpoints.deleted > 0, "no better checkpoint was ever kept: the test shows nothing"
    assert checkpoints.violations == []


def taken_over_past_its_checkpoint(tmp_path: Path, **training):
    """A generator whose worker trained 2 epochs and kept that checkpoint, went on to epoch 5
    and died; its phase is then taken over and run to its end: (svc, id, the kept one)."""
    svc = build_service("memory://", str(tmp_path / "data"))
    customers = write_customers(tmp_path / "customers.csv")
    gid = svc.create_generator(
        {
            "name": "resumed",
            "tables": [{"name": "customers", "path": str(customers), "text_columns": []}],
            "training": {"early_stopping_patience": None, **training},
        }
    )
    dead = svc.start_phase(gid, "tabular", "dead-worker", lease_s=5)
    spec = svc.check_spec(svc.get_generator(gid).spec, tmp_path)
    job = PhaseJob(str(gid), "tabular", "tabular", spec.tables, spec.training, seed=1)
    kept = svc.engines["reference"].train(job, ScriptedControl(stop_at_epoch=2)).checkpoint
    svc.record_progress(gid, "tabular", dead, epoch=5, step=5 * 9, elapsed_s=40.0, kept=kept)
    orchestrator = svc.orchestrator(lease_s=5, progress_interval_s=0)
    assert orchestrator.work_on(gid, datetime.now(UTC) + LATER)
    return svc, gid, kept


def test_a_takeover_resumes_a_checkpoint_under_its_own_epoch_and_step(tmp_path: Path) -> None:
    """Was: the takeover labelled the checkpoint it resumed from with the phase's counters, so
    the kept model read "epoch 5" for weights trained 2 epochs. Now the checkpoint keeps its
    own epoch and step, and the phase's counters still go on from where they were."""
    svc, gid, kept = taken_over_past_its_checkpoint(tmp_path, max_epochs=6, batch_size=64)
    taken = next(h for h in svc.history(gid) if h.type == "TakenOver")
    resumed = taken.data["resume_from"]
    assert (resumed["id"], resumed["epoch"], resumed["step"]) == (
        kept["id"],
        kept["epoch"],
        kept["step"],
    )
    phase = svc.get_view(gid).phases[0]
    assert (phase.state, phase.attempt, phase.reasons) == ("succeeded", 2, ["max_epochs_reached"])
    assert phase.epoch == 6  # the phase's counters went on from epoch 5
    # The model it resumed from (kept at epoch 2), or one kept after the takeover, under the
    # phase's counters: the engine's epoch 3 is the phase's 6.
    assert phase.checkpoint.epoch in (2, 6)
    assert phase.elapsed_s >= 40.0  # and its clock from where it was, not from zero
    rows = svc.metrics(gid, "tabular")
    assert [r.epoch for r in rows] == [6] and rows[0].elapsed_s >= 40.0  # the new epoch only


def test_what_a_resumed_phase_keeps_is_recorded_under_the_phases_counters(
    tmp_path: Path,
) -> None:
    """Was: a phase resumed from a checkpoint it had trained past (a takeover, a release)
    redoes the epochs since; what its engine kept then was recorded under the engine's own
    counters, behind the curve's: "best: epoch 299 (1225 epochs ago)" on a curve whose best
    was at epoch 516, and a continued generator's curve ran backwards. Now every checkpoint
    is recorded under the phase's counters, the engine's own in `trained`."""
    # A small learning rate and a fixed seed: it improves for several epochs, each run.
    training = dict(max_epochs=9, batch_size=32, learning_rate=0.01, seed=1)
    svc, gid, kept = taken_over_past_its_checkpoint(tmp_path, **training)
    svc.orchestrator(progress_interval_s=0).run(gid)  # synthesis and the report

    phase = svc.get_view(gid).phases[0]
    assert (phase.state, phase.epoch) == ("succeeded", 9)
    best = svc.get_generator(gid).phases["tabular"].checkpoint
    assert best["id"] != kept["id"], "nothing better was kept after the takeover: no test"
    rows = {r.epoch: r for r in svc.metrics(gid, "tabular")}
    assert sorted(rows) == [6, 7, 8, 9]  # epochs 3 to 6 of the engine, redone past epoch 5
    assert best["epoch"] in rows and rows[best["epoch"]].val_loss == best["val_loss"]
    assert best["trained"] == {"epoch": best["epoch"] - 3, "step": best["step"] - 3 * 9}
    assert phase.best.epoch == best["epoch"]
    assert phase.epochs_since_best == 9 - best["epoch"]

    # A generator continued from it resumes under the engine's counters and goes on from
    # the parent's: its curve runs on.
    child = svc.continue_training(gid, more_epochs=2)
    assert svc.get_view(child).phases[0].epoch_limit == best["epoch"] + 2
    svc.orchestrator(progress_interval_s=0).run(child)
    epochs = [r.epoch for r in svc.metrics(child, "tabular")]
    assert epochs == sorted(set(epochs)) and epochs[-1] == best["epoch"] + 2, epochs
    resumed = svc.get_generator(child).phases["tabular"]
    assert resumed.epoch == best["epoch"] + 2 and resumed.state == "succeeded"


def test_a_takeover_with_nothing_kept_restarts_the_phase_and_counts_on(make) -> None:
    """Was: the new attempt's engine counted from zero, the store refused its first report
    (counters cannot go back), and the phase was stuck: each takeover failed the same way."""
    svc, gid = make(max_epochs=6)
    dead = svc.start_phase(gid, "tabular", "dead-worker", lease_s=5)
    svc.record_progress(gid, "tabular", dead, epoch=2, step=5, elapsed_s=1.0)
    orchestrator = svc.orchestrator(lease_s=5, progress_interval_s=0)
    assert orchestrator.work_on(gid, datetime.now(UTC) + LATER)
    phase = svc.get_view(gid).phases[0]
    assert (phase.state, phase.attempt) == ("succeeded", 2)
    assert phase.reasons == ["max_epochs_reached"]
    assert (phase.epoch, phase.step) >= (6, 5)
    history = svc.history(gid)
    taken = next(h for h in history if h.type == "TakenOver")
    assert taken.data["resume_from"] is None  # restarted from its start


def test_a_live_worker_whose_phase_was_taken_over_stops_at_its_next_boundary(make) -> None:
    """Was: the old attempt trained on until its next progress report (up to lease/3, 10 s by
    default) next to the new one, writing checkpoint files the new one might use."""

    def train(job, control) -> PhaseOutcome:
        step = 0
        while True:
            time.sleep(0.005)
            step += 1
            decision = control.boundary(step // 2, step)
            if decision.stop:
                return outcome(step // 2, step, decision.reasons)

    svc, gid = make(train, max_epochs=10**6)
    old = svc.orchestrator(worker="old", progress_interval_s=60)
    new = svc.orchestrator(worker="new")
    ended = threading.Event()
    runner = threading.Thread(
        target=lambda: (old.work_on(gid, datetime.now(UTC)), ended.set()), daemon=True
    )
    runner.start()
    wait_until(lambda: svc.get_view(gid).phases[0].state == "running", 60, "the phase to run")
    time.sleep(0.05)
    taker = threading.Thread(target=new.work_on, args=(gid, datetime.now(UTC) + LATER))
    taker.start()
    # Well before the old attempt's next report (60 s), however loaded the machine.
    assert ended.wait(30), "the old attempt trained on after the takeover"
    svc.request_stop(gid, "tabular", requested_by="test")
    taker.join(60)
    phase = svc.get_view(gid).phases[0]
    assert (phase.state, phase.attempt, phase.reasons) == ("succeeded", 2, ["manually_stopped"])
    history = svc.history(gid)
    after = history[next(i for i, h in enumerate(history) if h.type == "TakenOver") :]
    assert {h.data.get("attempt") for h in after if "attempt" in h.data} == {2}


def test_a_cancel_between_two_parts_leaves_no_file_behind(tmp_path: Path, csv) -> None:
    """Was: a cancel stored while no part of the generator ran (between two parts) was seen by
    no runner, and the kept checkpoints stayed on disk (RULES.md inv. 6)."""
    store, data = f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "data"
    svc = build_service(store, str(data))
    other = build_service(store, str(data))  # another process: the web page, `ffwd cancel`
    gid = svc.create_generator(
        {
            "name": "between",
            "tables": [{"name": "people", "path": str(csv), "text_columns": ["note"]}],
            "training": {"max_epochs": 2, "batch_size": 8},
        }
    )
    orchestrator = svc.orchestrator()
    assert orchestrator.work_on(gid, datetime.now(UTC))  # the tabular phase, and no more
    assert files_of(data, gid), "the tabular phase kept no checkpoint file"
    other.cancel(gid, requested_by="dana")
    Worker(svc, orchestrator, poll_s=0.01).run(once=True)
    assert files_of(data, gid) == []
    for s in (svc, other):
        s.store.close()


def test_a_cancel_with_no_part_running_deletes_the_files_at_once(tmp_path: Path, csv) -> None:
    """Was: they stayed until some worker next looked for work (none may ever run again)."""
    store, data = f"sqlite:///{tmp_path / 'store.db'}", tmp_path / "data"
    svc = build_service(store, str(data))
    gid = svc.create_generator(
        {
            "name": "between",
            "tables": [{"name": "people", "path": str(csv), "text_columns": ["note"]}],
            "training": {"max_epochs": 2, "batch_size": 8},
        }
    )
    assert svc.orchestrator().work_on(gid, datetime.now(UTC))  # the tabular phase, no more
    assert files_of(data, gid)
    view = build_service(store, str(data)).cancel(gid, requested_by="dana")  # `ffwd cancel`
    assert view.state == "cancelled" and files_of(data, gid) == []
    svc.store.close()


def test_a_polling_follower_goes_on_after_a_listener_failed(make) -> None:
    """Was: a listener's exception ended the polling thread: no stop or cancel from another
    process reached this one again."""
    svc, gid = make()
    heard: list[int] = []

    def listener(events) -> None:
        heard.extend(e.originator_version for e in events)
        if len(heard) == len(events):
            raise RuntimeError("a listener bug")

    stop = PollingFollower(svc.store, poll_s=0.01).follow(listener)
    try:
        svc.request_stop(gid, "tabular", requested_by="a")
        wait_until(lambda: heard == [2], 5, "the first event")
        svc.cancel(gid, requested_by="b")
        wait_until(lambda: heard == [2, 3], 5, "the event after the listener failed")
    finally:
        stop()


def test_progress_renews_a_phase_lease_three_times_per_lease(make) -> None:
    """Was: progress every second whatever the lease, so a phase of a worker with a lease
    under a second (or near it) was taken over while its worker lived. Now a phase reports
    every third of its lease. (How often reports land on a loaded machine is not checked:
    only that they come, and never sooner than that interval.)"""

    def train(job, control):
        step = 0
        while True:
            step += 1
            decision = control.boundary(0, step)
            if decision.stop:
                return outcome(0, step, decision.reasons)
            time.sleep(0.005)

    svc, gid = make(train, max_epochs=10**6)
    orchestrator = svc.orchestrator(lease_s=0.9)
    assert orchestrator.progress_interval_s == pytest.approx(0.3)
    runner = threading.Thread(target=orchestrator.run, args=(gid,), daemon=True)
    runner.start()

    def renewals() -> list[float]:
        """When the phase started and each report was made, on the phase's clock: a report's
        store timestamp also counts how long storing it took, which a loaded machine may
        stretch for one report and not the next."""
        history = svc.history(gid)
        reports = [h.data["elapsed_s"] for h in history if h.type == "PhaseProgressed"]
        return [0.0, *reports] if any(h.type == "PhaseStarted" for h in history) else []

    wait_until(lambda: len(renewals()) >= 4, 120, "three progress reports")
    svc.request_stop(gid, "tabular", requested_by="test")
    runner.join(120)
    gaps = [b - a for a, b in itertools.pairwise(renewals())]
    assert min(gaps) >= 0.29, gaps  # every third of the lease, not at every boundary


def test_workers_starting_at_once_on_one_postgresql_all_open_the_store(postgres_server) -> None:
    """Was: eventsourcing creates its table and function at every start, and processes
    starting together raced on it (`tuple concurrently updated`): some workers exited."""
    for _ in range(3):
        url = postgres_server.create_database()
        build_service(url, "unused").store.close()  # the table exists, as in production
        start, errors, services = threading.Barrier(8), [], []

        def open_store(url=url, start=start, errors=errors, services=services) -> None:
            start.wait()
            try:
                services.append(build_service(url, "unused"))
            except Exception as e:
                errors.append(repr(e))

        threads = [threading.Thread(target=open_store) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        for s in services:
            s.store.close()
        assert errors == []
