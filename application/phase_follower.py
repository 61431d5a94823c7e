"""Turns a generator's stored events into one phase's control flags."""

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from ffwd.application.control import PhaseControl
from ffwd.domain.generator import Generator

# What a running part hears of other processes: a stop, the end of its generator, a takeover.
HEARD_BY_RUNNERS = (
    Generator.StopRequested,
    Generator.Cancelled,
    Generator.Failed,
    Generator.TakenOver,
)


class PhaseFollower:
    """Stop requests for the phase and the end of its generator (cancel, failure) become
    the control's flags; flags seen before the control exists are handed to it on attach."""

    def __init__(self, generator_id: UUID, phase_id: str) -> None:
        self.generator_id = generator_id
        self.phase_id = phase_id
        self.control: PhaseControl | None = None
        self.stop_requested = False
        self.ended = False

    def attach(self, control: PhaseControl) -> None:
        self.control = control
        self._apply()

    def __call__(self, events: Sequence[Any]) -> None:
        for e in events:
            if e.originator_id != self.generator_id:
                continue
            kind = type(e)
            if kind is Generator.StopRequested and e.phase == self.phase_id:
                self.stop_requested = True
            elif kind in (Generator.Cancelled, Generator.Failed):
                self.ended = True
        self._apply()

    def _apply(self) -> None:
        if self.control is None:
            return
        if self.stop_requested:
            self.control.request_stop()
        if self.ended:
            self.control.interrupt()
