"""The training control: cost of a boundary, stop reaction in-process, overhead on an epoch."""

import statistics
import threading
import time
import uuid
from pathlib import Path

from benchmarks.results import Record
from benchmarks.timing import interleaved, paired_ratio
from ffwd.adapters.checkpoints import FileCheckpointStore
from ffwd.adapters.container import build_service
from ffwd.adapters.engines.reference.engine import ReferenceEngine
from ffwd.adapters.sample_data import __file__ as sample_init
from ffwd.application.control import PhaseControl
from ffwd.application.spec import TableSpec, TrainingSpec
from ffwd.application.training import CONTINUE, Decision, PhaseJob, PhaseOutcome

SAMPLE = Path(sample_init).parent


def run(folder: Path, scale: float) -> list[Record]:
    return [
        boundary_cost(scale),
        stop_reaction(folder, max(10, int(100 * scale))),
        epoch_overhead(folder, max(5, int(21 * scale))),
    ]


def _per_call_ns(fn, calls: int, rounds: int) -> float:
    """Median over rounds of the time of `calls` calls, per call."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter_ns()
        for _ in range(calls):
            fn(3, 120)
        times.append((time.perf_counter_ns() - start) / calls)
    return statistics.median(times)


def boundary_cost(scale: float) -> Record:
    control = PhaseControl(TrainingSpec(max_training_time_s=None), lambda p: None)
    control.boundary(3, 119)
    event = threading.Event()

    def bare(epoch: int, step: int) -> None:
        return None

    def is_set(epoch: int, step: int) -> bool:
        return event.is_set()

    calls, rounds = 10_000, max(5, int(30 * scale))
    ns = {"boundary": [], "bare": [], "is_set": []}
    for _ in range(3):
        ns["boundary"].append(_per_call_ns(control.boundary, calls, rounds))
        ns["bare"].append(_per_call_ns(bare, calls, rounds))
        ns["is_set"].append(_per_call_ns(is_set, calls, rounds))
    boundary, bare_ns, is_set_ns = (statistics.median(v) for v in ns.values())
    return Record(
        name="boundary_cost",
        line=f"control.boundary() with nothing changed: {boundary:.0f} ns/call "
        f"(bare Python call {bare_ns:.0f} ns, threading.Event.is_set() {is_set_ns:.0f} ns)",
        measured=boundary / 1000,
        reference=bare_ns / 1000,
        unit="us",
        ratio=boundary / 1000,
        op="<=",
        target=1.0,
        details={"bare_call_ns": bare_ns, "event_is_set_ns": is_set_ns, "calls": calls},
    )


class _CountingEngine:
    """Steps of ~0.2 ms of real work; remembers the step reached when a stop was stored."""

    name = "bench"

    def __init__(self) -> None:
        self.completed = 0

    def train(self, job: PhaseJob, control) -> PhaseOutcome:
        self.completed = 0
        step, decision = 0, CONTINUE
        while not decision.stop:
            _spin(0.0002)
            step += 1
            self.completed = step
            decision = control.boundary(step // 100, step)
        return PhaseOutcome(
            checkpoint={"id": f"s{step}", "epoch": step // 100, "step": step},
            epoch=step // 100,
            step=step,
            reasons=decision.reasons,
        )

    def synthesize(self, generator_id, spec, checkpoints, out_dir) -> dict:
        return {}

    def discard(self, generator_id: str) -> None:
        pass


def _spin(seconds: float) -> None:
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def stop_reaction(folder: Path, stops: int) -> Record:
    """Extra steps trained after the boundary at which each stop was stored: must be 0."""
    csv = folder / "t.csv"
    csv.write_text("a,b\n" + "".join(f"{i % 3},{i % 5}\n" for i in range(50)))
    svc = build_service("memory://", str(folder / "data"))
    engine = _CountingEngine()
    svc.engines["bench"] = engine
    seen_at: dict = {}
    svc.subscribe(
        lambda events: [
            seen_at.setdefault(e.originator_id, engine.completed)
            for e in events
            if type(e).__name__ == "StopRequested"
        ]
    )
    extra = []
    for i in range(stops):
        gid = svc.create_generator(
            {
                "name": "stop",
                "engine": "bench",
                "tables": [{"name": "t", "path": str(csv)}],
                "training": {"max_epochs": 10**6, "max_training_time_s": None},
            }
        )
        engine.completed = 0
        runner = threading.Thread(target=svc.run, args=(gid,), kwargs={"progress_interval_s": 60})
        runner.start()
        while engine.completed < 5 + i % 7:  # the phase is running: a stop while training
            time.sleep(0.0005)
        svc.request_stop(gid, "tabular", requested_by="bench")
        runner.join()
        ended = svc.get_view(gid).phases[0].step
        extra.append(ended - (seen_at[gid] + 1))
    worst = max(extra)
    return Record(
        name="stop_reaction_in_process",
        line=f"stop reaction in-process over {stops} stops: max {worst} extra steps after the "
        f"boundary where the stop was stored (every one: {sorted(set(extra))})",
        measured=worst,
        reference=0,
        unit="steps",
        ratio=worst,
        op="<=",
        target=0,
        details={"stops": stops, "extra_steps": extra},
    )


class _BareControl:
    """The same loop with no control: only the epoch limit, checked inline."""

    def __init__(self, max_epochs: int) -> None:
        self.max_epochs = max_epochs

    def boundary(self, epoch: int, step: int, metrics=None) -> Decision:
        if epoch >= self.max_epochs:
            return Decision(stop=True, reasons=("max_epochs_reached",))
        return CONTINUE


def epoch_overhead(folder: Path, rounds: int) -> Record:
    engine = ReferenceEngine(FileCheckpointStore(str(folder / "data")))
    epochs = 3
    training = TrainingSpec(
        max_epochs=epochs, max_training_time_s=None, early_stopping_patience=None, batch_size=64
    )
    table = TableSpec(name="customers", path=str(SAMPLE / "customers.csv"), text_columns=["bio"])

    def once(control) -> float:
        job = PhaseJob(
            generator_id=str(uuid.uuid4()),
            phase_id="tabular",
            kind="tabular",
            tables=[table],
            training=training,
            seed=7,
        )
        start = time.perf_counter()
        engine.train(job, control)
        took = time.perf_counter() - start
        engine.discard(job.generator_id)
        return took

    with_control, without = interleaved(
        rounds,
        lambda: once(PhaseControl(training, lambda p: None)),
        lambda: once(_BareControl(epochs)),
    )
    ratio = paired_ratio(with_control, without)
    return Record(
        name="epoch_overhead",
        line=f"reference tabular training, {epochs} epochs: with the control "
        f"{statistics.median(with_control) * 1000:.0f} ms vs without "
        f"{statistics.median(without) * 1000:.0f} ms",
        measured=statistics.median(with_control),
        reference=statistics.median(without),
        unit="s",
        ratio=ratio,
        op="<=",
        target=1.02,
        details={"rounds": rounds},
    )
