"""A driver's pipelines with a hand-made placement (the cluster): claims as a worker's, a lost
runner's part taken over at once, a part no machine can hold failed saying why, the claim
renewed while a runner waits for resources, a runner outliving a cancel killed (at once when
it never began), and a preempted driver's parts handed back (ADR 0027)."""

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ffwd.adapters.container import build_service
from ffwd.application.placed_pipelines import MAX_LOST, PlacedPipelines
from ffwd.application.placement import ClaimedPart, Ending, Resources, Unplaceable
from ffwd.application.service import GeneratorService
from tests.e2e.helpers import wait_for

CSV = "id,age,city\n" + "".join(f"{i},{20 + i % 50},{['Oslo', 'Rome'][i % 2]}\n" for i in range(30))
BY_ITSELF = Ending()


class Run:
    """A runner on the hand-made cluster: it ends with `ending` once `go` is set."""

    def __init__(self, started: bool = True, ending: Ending | None = BY_ITSELF) -> None:
        self.started, self.ending = started, ending
        self.released = self.killed = False
        self.go = threading.Event()  # set: `ending` comes at the next wait

    def wait(self, timeout_s: float) -> Ending | None:
        if self.killed:
            return Ending()
        if self.go.wait(min(timeout_s, 0.02)):
            return self.ending
        return None

    def release(self) -> None:
        self.released = True
        self.go.set()

    def kill(self) -> None:
        self.killed = True


class Cluster:
    """Places parts by handing out the runs it was given, in order; records what it placed."""

    def __init__(self, *runs: Run, unplaceable: str | None = None) -> None:
        self.runs, self.placed = list(runs), []
        self.unplaceable = unplaceable

    def start(self, claimed: ClaimedPart) -> Run:
        if self.unplaceable:
            raise Unplaceable(self.unplaceable)
        self.placed.append(claimed)
        return self.runs.pop(0)


@pytest.fixture
def svc(tmp_path: Path) -> GeneratorService:
    (tmp_path / "people.csv").write_text(CSV)
    return build_service("memory://", str(tmp_path / "data"))


@pytest.fixture
def gid(svc, tmp_path: Path):
    spec = {
        "name": "g",
        "tables": [{"name": "people", "path": str(tmp_path / "people.csv")}],
        "training": {"resources": {"cpus": 2, "tabular": {"gpus": 1, "memory_gb": 0.5}}},
    }
    return svc.create_generator(spec)


def driver(svc, cluster, **options) -> PlacedPipelines:
    lease_s = options.pop("lease_s", 30.0)
    orchestrator = svc.orchestrator(lease_s=lease_s, worker="d1")
    return PlacedPipelines(svc, orchestrator, cluster, lease_s=lease_s, **options)


def ended(run: Run, ending: Ending = BY_ITSELF) -> Run:
    run.ending = ending
    run.go.set()
    return run


def test_a_claim_is_stored_here_and_the_part_placed_with_what_its_spec_asks(svc, gid) -> None:
    cluster = Cluster(ended(Run()))
    assert driver(svc, cluster).work_on(gid, datetime.now(UTC))
    (claimed,) = cluster.placed
    assert (claimed.part, claimed.attempt, claimed.kind) == ("tabular", 1, "tabular")
    assert claimed.resources == Resources(cpus=2, gpus=1, memory_gb=0.5)
    phase = svc.get_generator(gid).phases["tabular"]
    assert (phase.state, phase.worker, phase.attempt) == ("running", "d1", 1)


def test_a_lost_runner_s_part_is_taken_over_at_once_and_placed_again(svc, gid) -> None:
    cluster = Cluster(ended(Run(), Ending(lost="WorkerCrashedError")), ended(Run()))
    driver(svc, cluster).work_on(gid, datetime.now(UTC))
    assert [c.attempt for c in cluster.placed] == [1, 2]
    taken = svc.history(gid)[-1]
    assert taken.type == "TakenOver"
    assert (taken.data["worker"], taken.data["previous_worker"]) == ("d1", "d1")


def test_a_runner_lost_again_and_again_fails_its_part_saying_why(svc, gid) -> None:
    runs = [ended(Run(), Ending(lost="OutOfMemoryError: killed")) for _ in range(MAX_LOST)]
    driver(svc, Cluster(*runs)).work_on(gid, datetime.now(UTC))
    view = svc.get_view(gid)
    assert view.state == "failed"
    assert f"lost {MAX_LOST} times in a row" in view.error and "OutOfMemoryError" in view.error


def test_a_part_no_machine_can_hold_fails_saying_why(svc, gid) -> None:
    cluster = Cluster(unplaceable="no machine has 1 GPU")
    driver(svc, cluster).work_on(gid, datetime.now(UTC))
    view = svc.get_view(gid)
    assert view.state == "failed" and "no machine has 1 GPU" in view.error


def test_the_claim_is_renewed_while_the_runner_waits_for_resources(svc, gid) -> None:
    run = Run(started=False)
    work = threading.Thread(
        target=driver(svc, Cluster(run), lease_s=0.3).work_on, args=(gid, datetime.now(UTC))
    )
    three_leases = datetime.now(UTC) + timedelta(seconds=1.0)
    work.start()
    # Renewed past three leases, each of which would have run out without a renewal. (Whether
    # it is unexpired at one given instant depends on how soon the machine runs the renewing
    # thread: a lease of 0.3 s renewed every 0.1 s leaves it 0.2 s.)
    wait_for(svc, gid, lambda v: (v.phases[0].lease_expires_at or three_leases) > three_leases)
    assert svc.get_generator(gid).phases["tabular"].attempt == 1
    wait_for(svc, gid, lambda v: v.phases[0].waiting_for is not None)  # after SAY_WAITING_S
    assert svc.get_view(gid).phases[0].waiting_for == "2 CPU, 1 GPU, 0.5 GB of memory"
    run.started = True  # its resources came free
    wait_for(svc, gid, lambda v: v.phases[0].waiting_for is None)
    ended(run)
    work.join(10)
    types = [e.type for e in svc.history(gid)]
    assert types.count("Heartbeat") >= 2 and types.count("PartWaiting") == 2


@pytest.mark.parametrize(
    ("began", "kill_after_s"),
    [(True, 0.2), (False, 3600)],  # one that never began is killed at once: nothing to lose
    ids=["running", "still-waiting-for-resources"],
)
def test_a_runner_still_going_after_a_cancel_is_killed(svc, gid, began, kill_after_s) -> None:
    run = Run(started=began)
    work = threading.Thread(
        target=driver(svc, Cluster(run), kill_after_s=kill_after_s).work_on,
        args=(gid, datetime.now(UTC)),
    )
    work.start()
    wait_for(svc, gid, lambda v: v.phases[0].state == "running")
    svc.cancel(gid, requested_by="alice")
    work.join(60)
    assert run.killed and not work.is_alive()


def test_a_preempted_driver_hands_its_parts_back(svc, gid) -> None:
    waiting = Run(started=False)
    pipelines = driver(svc, Cluster(waiting))
    work = threading.Thread(target=pipelines.work_on, args=(gid, datetime.now(UTC)))
    work.start()
    wait_for(svc, gid, lambda v: v.phases[0].state == "running")
    pipelines.preempt()
    work.join(10)
    assert waiting.killed
    phase = svc.get_generator(gid).phases["tabular"]
    assert (phase.state, phase.preemptions) == ("pending", 1)
    assert not pipelines.work_on(gid, datetime.now(UTC))  # it claims nothing more
