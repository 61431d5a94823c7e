"""What the application hands to a training engine, and what an engine gives back."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ffwd.application.spec import GeneratorSpec, TableSpec, TrainingSpec


@dataclass(frozen=True)
class Decision:
    """The control's answer at a step boundary: stop now, and why."""

    stop: bool
    reasons: tuple[str, ...] = ()


CONTINUE = Decision(stop=False)


class PhaseInterrupted(Exception):
    """Raised out of `Control.boundary()` when the generator was cancelled: unwind at once,
    keep nothing."""


@runtime_checkable
class Control(Protocol):
    """Asked by the engine at every step boundary (between two optimizer steps).

    `epoch` counts completed epochs, `step` completed optimizer steps, both continuing
    from a resumed checkpoint. `metrics` may carry `val_loss` (a validation loss measured
    at this boundary), `train_loss`, `epsilon` (privacy spent so far) and `next_epsilon`
    (privacy spent after one more step). Cheap when nothing changed (about a microsecond).
    The control alone ends a phase: an engine trains until it says stop (its epoch limit
    always comes), so a control must say stop at some boundary.

    Engines also call, where a control has them, `kept(checkpoint)` when they keep a new
    checkpoint and `privacy(plan)` (a `PrivacyPlan`) when a private phase starts.
    """

    def boundary(
        self, epoch: int, step: int, metrics: Mapping[str, float] | None = None
    ) -> Decision: ...


@dataclass(frozen=True)
class PhaseJob:
    """One training phase for an engine: which tables, how to train, where to resume."""

    generator_id: str
    phase_id: str
    kind: str
    tables: list[TableSpec]
    training: TrainingSpec
    resume_from: dict[str, Any] | None = None
    seed: int = 0
    attempt: int = 1


def checkpoint_id(job: PhaseJob, epoch: int, step: int) -> str:
    """The name of a checkpoint an engine keeps: the attempt is part of it, so that an attempt
    a takeover made stale never writes over, or deletes, a file of the attempt after it."""
    return f"a{job.attempt}-e{epoch}-s{step}"


@dataclass(frozen=True)
class PhaseOutcome:
    """How a phase ended: the kept checkpoint (best by validation loss) and the counters.

    `checkpoint` holds at least `id`, `epoch`, `step`, `val_loss` and `epsilon`.
    `reasons` are the stop decision's; empty when the engine ended on its own (unknown).
    """

    checkpoint: dict[str, Any]
    epoch: int
    step: int
    val_loss: float | None = None
    epsilon: float | None = None
    reasons: tuple[str, ...] = field(default=())


@runtime_checkable
class TrainingEngine(Protocol):
    """A training engine: trains phases, synthesizes tables from their checkpoints."""

    name: str

    def train(self, job: PhaseJob, control: Control) -> PhaseOutcome:
        """Train until the control says stop; raise PhaseInterrupted through on cancel."""

    def synthesize(
        self,
        generator_id: str,
        spec: GeneratorSpec,
        checkpoints: Mapping[str, dict[str, Any]],
        out_dir: str,
    ) -> dict[str, str]:
        """Write one synthetic CSV per table from the phases' checkpoints; table -> path."""

    def discard(self, generator_id: str) -> None:
        """Delete every file this engine wrote for the generator (cancel)."""


@runtime_checkable
class ReportWriter(Protocol):
    def write(
        self, spec: GeneratorSpec, synthetic: Mapping[str, str], out_dir: str
    ) -> dict[str, str]:
        """Compare synthetic with original tables; returns {"report": json path,
        "report_html": html path}."""


@runtime_checkable
class Anonymizer(Protocol):
    """Anonymizes tables column by column, as an anonymization generator's spec says."""

    def unavailable(self) -> str | None:
        """Why this anonymizer cannot run here (a missing extra), or None when it can.
        Called when a generator is created."""

    def check(self, spec: GeneratorSpec) -> list[str]:
        """The spec's problems with the tables' data (e.g. a number technique on a text
        column); empty when none. Called when a generator is created."""

    def anonymize(self, spec: GeneratorSpec, out_dir: str) -> dict[str, str]:
        """Write one anonymized CSV per table into out_dir; returns table -> path."""
