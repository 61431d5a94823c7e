"""Training engines defined by the tests, behind the real `TrainingEngine` port.

Each trains through the real `Control` the orchestrator hands it; `synthesize` writes the
configured number of rows copied from the originals, so synthesis and report really run.
"""

import csv
import itertools
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ffwd.application.spec import GeneratorSpec
from ffwd.application.training import Control, PhaseJob, PhaseOutcome

Train = Callable[[PhaseJob, Control], PhaseOutcome]
STEPS_PER_EPOCH = 2


def outcome(epoch: int, step: int, reasons: tuple[str, ...] = ()) -> PhaseOutcome:
    checkpoint = {"id": f"fake-e{epoch}-s{step}", "epoch": epoch, "step": step}
    return PhaseOutcome(
        checkpoint=checkpoint | {"val_loss": 1.0, "epsilon": None},
        epoch=epoch,
        step=step,
        val_loss=1.0,
        reasons=reasons,
    )


class FakeEngine:
    """A `TrainingEngine` whose training is `train(job, control)`; records what it did."""

    name = "fake"

    def __init__(self, train: Train) -> None:
        self._train = train
        self.trained: list[str] = []
        self.synthesized: list[Mapping[str, dict[str, Any]]] = []
        self.discarded: list[str] = []

    def train(self, job: PhaseJob, control: Control) -> PhaseOutcome:
        self.trained.append(job.phase_id)
        return self._train(job, control)

    def synthesize(
        self,
        generator_id: str,
        spec: GeneratorSpec,
        checkpoints: Mapping[str, dict[str, Any]],
        out_dir: str,
    ) -> dict[str, str]:
        self.synthesized.append(dict(checkpoints))
        paths = {}
        for table in spec.tables:
            with open(table.path, newline="", encoding="utf-8") as f:
                reader = csv.reader(f)
                header, rows = next(reader), list(reader)
            n = spec.synthesis.rows.get(table.name, len(rows))
            path = Path(out_dir) / f"{table.name}.csv"
            with path.open("w", newline="", encoding="utf-8") as f:
                writer = csv.writer(f)
                writer.writerow(header)
                writer.writerows(itertools.islice(itertools.cycle(rows), n))
            paths[table.name] = str(path)
        return paths

    def discard(self, generator_id: str) -> None:
        self.discarded.append(generator_id)


def until_stopped(job: PhaseJob, control: Control) -> PhaseOutcome:
    """Steps until the control says stop (e.g. at max_epochs), as a well-behaved engine."""
    step = 0
    while True:
        step += 1
        epoch = step // STEPS_PER_EPOCH
        decision = control.boundary(epoch, step)
        if decision.stop:
            return outcome(epoch, step, decision.reasons)


def ends_on_its_own(steps: int) -> Train:
    """Asks the control at each of `steps` boundaries, ignores its answers, then returns
    without any stop decision."""

    def train(job: PhaseJob, control: Control) -> PhaseOutcome:
        for step in range(1, steps + 1):
            control.boundary(step // STEPS_PER_EPOCH, step)
        return outcome(steps // STEPS_PER_EPOCH, steps)

    return train


def returns_reasons(reasons: tuple[str, ...]) -> Train:
    """One step, then returns with its own `reasons` (whatever the control said)."""

    def train(job: PhaseJob, control: Control) -> PhaseOutcome:
        control.boundary(0, 1)
        return outcome(0, 1, reasons)

    return train


def fails_in(phase_id: str, message: str) -> Train:
    """Trains every phase well, except `phase_id`, which raises after two steps."""

    def train(job: PhaseJob, control: Control) -> PhaseOutcome:
        if job.phase_id != phase_id:
            return until_stopped(job, control)
        control.boundary(0, 1)
        control.boundary(1, 2)
        raise RuntimeError(message)

    return train


class SlowStepIn:
    """Steps of 10 ms, except in `phase_id`, where the step after `fast_steps` lasts until the
    test calls `release()`: a long step between two boundaries. With `then_return`, the engine
    returns right after that step, without asking the control (a runner reporting success
    whatever happened meanwhile)."""

    def __init__(self, phase_id: str, fast_steps: int, then_return: bool = False) -> None:
        self.phase_id, self.fast_steps, self.then_return = phase_id, fast_steps, then_return
        self.in_slow_step = threading.Event()
        self._release = threading.Event()

    def release(self) -> None:
        self._release.set()

    def __call__(self, job: PhaseJob, control: Control) -> PhaseOutcome:
        step = 0
        while True:
            slow = job.phase_id == self.phase_id and step == self.fast_steps
            if slow:
                self.in_slow_step.set()
                if not self._release.wait(60):
                    raise TimeoutError("the test never released the slow step")
            else:
                time.sleep(0.01)
            step += 1
            epoch = step // STEPS_PER_EPOCH
            if slow and self.then_return:
                return outcome(epoch, step, ("manually_stopped",))
            decision = control.boundary(epoch, step)
            if decision.stop:
                return outcome(epoch, step, decision.reasons)
