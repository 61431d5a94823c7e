"""A PhaseControl that records what the engine asked, and can act at a given step."""

from collections.abc import Mapping

from ffwd.application.control import PhaseControl
from ffwd.application.spec import TrainingSpec
from ffwd.application.training import Decision, PhaseInterrupted


class RecordingControl(PhaseControl):
    """The real control, plus: a stop stored right after the boundary of `stop_after_step`,
    a cancel raised at `cancel_at_step`; every boundary is kept in `calls`."""

    def __init__(
        self,
        training: TrainingSpec,
        *,
        stop_requested: bool = False,
        stop_after_step: int | None = None,
        cancel_at_step: int | None = None,
    ) -> None:
        super().__init__(training, lambda _: None, stop_requested=stop_requested)
        self.stop_after_step = stop_after_step
        self.cancel_at_step = cancel_at_step
        self.calls: list[tuple[int, int, dict | None]] = []

    def boundary(self, epoch: int, step: int, metrics: Mapping[str, float] | None = None):
        self.calls.append((epoch, step, dict(metrics) if metrics else None))
        if self.cancel_at_step is not None and step >= self.cancel_at_step:
            self.interrupt()
        decision: Decision = super().boundary(epoch, step, metrics)
        if step == self.stop_after_step:
            self.request_stop()  # stored while the next step trains
        return decision

    @property
    def steps(self) -> list[int]:
        return [step for _, step, _ in self.calls]


__all__ = ["PhaseInterrupted", "RecordingControl"]
