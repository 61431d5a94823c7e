"""Leases: which part a worker may claim, and the runner's side of holding a part (progress
that renews the lease, heartbeats for steps, hearing a takeover, counters that go on)."""

import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, TypeVar
from uuid import UUID

from ffwd.application.control import PhaseControl, Progress
from ffwd.application.ports import RunnerCommands
from ffwd.application.privacy import PrivacyPlan
from ffwd.application.training import PhaseInterrupted
from ffwd.domain import errors
from ffwd.domain.generator import Generator

T = TypeVar("T")
log = logging.getLogger(__name__)
# How long a runner's report keeps being retried while the store is unreachable (a restart,
# a network cut); the part's lease usually expires first, and the retry then hears it lost.
STORE_RETRY_S = 120.0


class LeaseLost(PhaseInterrupted):
    """Another worker took this part over (our lease expired): stop, keep nothing of ours."""


class ClaimLost(Exception):
    """Another worker claimed the part first: the loser of the race moves on."""


def next_part(g: Generator, now: datetime) -> tuple[str | None, bool]:
    """The part a worker may claim now, in pipeline order, and whether that is a takeover."""
    ready = g.ready_parts()
    for part in [*g.phases, *g.steps]:
        if part in ready:
            return part, False
        if g.lease_expired(part, now):
            return part, True
    return None, False


def refused(e: Exception) -> bool:
    """Whether the store said no (a rule, a lost lease, a cancel), not that it failed."""
    failed = isinstance(e, errors.StoreUnavailable)
    return not failed and isinstance(e, errors.FfwdError | PhaseInterrupted)


def durably(report: Callable[[], T], what: str) -> T:
    """A runner's report, retried while the store fails (not while it refuses: a domain
    error or a lost lease goes straight up), for up to STORE_RETRY_S."""
    deadline = time.monotonic() + STORE_RETRY_S
    wait = 0.05
    while True:
        try:
            return report()
        except Exception as e:
            if refused(e) or time.monotonic() > deadline:
                raise
            log.warning("%s: the store failed (%s); trying again", what, e)
            time.sleep(random.uniform(wait / 2, wait))
            wait = min(2.0, wait * 2)


class Heartbeat:
    """Renews a running step's lease from a background thread while its work goes on."""

    def __init__(
        self,
        commands: RunnerCommands,
        generator_id: UUID,
        part: str,
        attempt: int,
        every_s: float,
    ) -> None:
        self._stop = threading.Event()
        self._beat = lambda: commands.heartbeat(generator_id, part, attempt)
        self._every_s = every_s
        self._thread = threading.Thread(target=self._run, name="ffwd-heartbeat", daemon=True)

    def __enter__(self) -> "Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._every_s):
            try:
                self._beat()
            except errors.StoreUnavailable as e:  # the next beat may get through
                log.warning("heartbeat failed: %s", e)
            except errors.FfwdError:
                return  # cancelled or taken over: the work's own report will say so
            except Exception as e:  # the store failed: the next beat may get through
                log.warning("heartbeat failed: %s", e)


class Reporter:
    """Stores a phase attempt's progress. A periodic report the store fails to take is
    skipped (the next one renews the lease); a report the store refuses ends the attempt:
    a lost lease (`stale_runner`) or a cancel."""

    def __init__(
        self,
        commands: RunnerCommands,
        generator_id: UUID,
        phase_id: str,
        attempt: int,
        last_kept: dict | None,
    ) -> None:
        self._commands = commands
        self._gid, self._phase, self._attempt = generator_id, phase_id, attempt
        # The kept checkpoint the store knows of (after a takeover: the one resumed from).
        self.recorded_kept: str | None = (last_kept or {}).get("id")

    def __call__(self, p: Progress) -> bool:
        """Whether the store took it: when not, the control keeps its epochs' rows for the
        next report."""
        try:
            self._record(p)
        except Exception as e:
            if refused(e):
                raise
            log.warning("progress of %s not stored (%s); training goes on", self._phase, e)
            return False
        return True

    def record_kept(self, p: Progress) -> None:
        """Store a newly kept checkpoint before the engine deletes the one it supersedes."""
        durably(lambda: self._record(p), f"recording the checkpoint of {self._phase}")

    def record_privacy(self, plan: PrivacyPlan) -> None:
        """Store the phase's DP-SGD settings as soon as the engine chose them."""

        def record() -> None:
            try:
                self._commands.record_privacy(
                    self._gid, self._phase, self._attempt, **plan.as_dict()
                )
            except errors.StaleRunner as e:
                raise LeaseLost(str(e)) from e
            except errors.GeneratorCancelled as e:
                raise PhaseInterrupted(str(e)) from e

        durably(record, f"recording the privacy settings of {self._phase}")

    def _record(self, p: Progress) -> None:
        try:
            self._commands.record_progress(
                self._gid,
                self._phase,
                self._attempt,
                epoch=p.epoch,
                step=p.step,
                elapsed_s=round(p.elapsed_s, 3),
                val_loss=p.val_loss,
                epsilon=p.epsilon,
                kept=p.kept,
                epochs=list(p.epochs),
            )
        except errors.StaleRunner as e:
            raise LeaseLost(str(e)) from e
        except errors.GeneratorCancelled as e:
            raise PhaseInterrupted(str(e)) from e
        if p.kept:
            self.recorded_kept = p.kept.get("id")


class LeasedControl(PhaseControl):
    """The control of a phase that another worker may have to take over.

    A takeover resumes from the kept checkpoint the store knows of, and an engine deletes the
    checkpoint a new one supersedes as soon as it keeps the new one. So each newly kept
    checkpoint is stored at once (one progress event per improving epoch), before the engine
    can delete the one a takeover would look for; the first one tells the page (and any
    listener) that a usable checkpoint exists as soon as it does, unless the phase is ending
    at its next boundary anyway."""

    def __init__(
        self, training: Any, reporter: Reporter, floor: tuple[int, int], **options: Any
    ) -> None:
        super().__init__(training, reporter, **options)
        self._reporter = reporter
        self._floor = floor  # the phase's counters when this attempt began

    def kept(self, checkpoint: dict) -> None:
        recorded = self._reporter.recorded_kept
        if recorded is None and (self.stop_requested or self.release_requested):
            super().kept(checkpoint)  # nothing to supersede, and the phase's end records it
            return
        if checkpoint.get("id") == recorded:
            return
        # The engine keeps a checkpoint at an epoch's end, before it asks the control at that
        # boundary: the counters the control has seen may lag the checkpoint's.
        epoch = max(self.epoch, self._floor[0], checkpoint.get("epoch", 0))
        step = max(self.step, self._floor[1], checkpoint.get("step", 0))
        rows = self.unreported_epochs()
        progress = Progress(
            epoch, step, self.elapsed(), self.val_loss, self.epsilon, checkpoint, rows
        )
        self._reporter.record_kept(progress)

    def privacy(self, plan: PrivacyPlan) -> None:
        super().privacy(plan)
        self._reporter.record_privacy(plan)


class CountingOn:
    """The control as an engine counting behind the phase sees it: one restarted from its
    start (a takeover with nothing kept), or from a checkpoint the phase has trained past (a
    takeover or a release redoes the epochs since it). The phase's counters go on from where
    they were (they never decrease, RULES.md inv. 9), and every checkpoint the engine keeps is
    recorded under them, as the curve shows it: its own counters go in `trained`, which the
    engine of a later attempt resumes under."""

    def __init__(
        self, control: PhaseControl, epochs: int, steps: int, resumed: dict | None = None
    ) -> None:
        self._control, self._epochs, self._steps = control, epochs, steps
        self._resumed = resumed

    def boundary(self, epoch: int, step: int, metrics: Any = None) -> Any:
        return self._control.boundary(epoch + self._epochs, step + self._steps, metrics)

    def kept(self, checkpoint: dict) -> None:
        self._control.kept(self.counted(checkpoint))

    def privacy(self, plan: PrivacyPlan) -> None:
        self._control.privacy(plan.shifted(self._steps))

    def counted(self, checkpoint: dict) -> dict:
        """The engine's checkpoint under the phase's counters. One at the counters the engine
        resumed at is the model it resumed from (an engine may keep it again, under a new
        id): under the counters that model was first kept at."""
        if not checkpoint or not (self._epochs or self._steps):
            return checkpoint
        epoch, step = checkpoint.get("epoch", 0), checkpoint.get("step", 0)
        counted = {"epoch": epoch + self._epochs, "step": step + self._steps}
        start = as_trained(self._resumed)
        if start and (epoch, step) == (start["epoch"], start["step"]):
            first = self._resumed or {}
            counted = {"epoch": _count(first, "epoch"), "step": _count(first, "step")}
        return {**checkpoint, **counted, "trained": {"epoch": epoch, "step": step}}


def counters_behind(phase: Any) -> tuple[int, int]:
    """How far the phase's counters are ahead of where its engine starts counting: the
    counters the checkpoint it resumes from was trained to (else 0). The phase goes on from
    its own counters or the checkpoint's, whichever is further (a new generator's phase
    continues its parent's)."""
    start = phase.resume_from or {}
    trained = _trained(start)
    return (
        max(0, max(phase.epoch, _count(start, "epoch")) - _count(trained, "epoch")),
        max(0, max(phase.step, _count(start, "step")) - _count(trained, "step")),
    )


def as_trained(checkpoint: dict | None) -> dict | None:
    """A recorded checkpoint under the counters its engine trained it to: what the engine
    resuming from it starts from."""
    if not checkpoint:
        return checkpoint
    mine = {k: v for k, v in checkpoint.items() if k != "trained"}
    trained = _trained(checkpoint)
    return mine | {"epoch": _count(trained, "epoch"), "step": _count(trained, "step")}


def _trained(checkpoint: dict) -> dict:
    trained = checkpoint.get("trained")
    return trained if isinstance(trained, dict) else checkpoint


def _count(checkpoint: dict, key: str) -> int:
    value = checkpoint.get(key, 0)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


class TakeoverWatch:
    """Hears that another worker took the phase over (our lease had expired, though we live):
    our attempt then ends at its next step boundary, not at its next report."""

    def __init__(self, generator_id: UUID, phase_id: str) -> None:
        self._gid, self._phase = generator_id, phase_id
        self._newest = 0
        self._attempt: int | None = None
        self._control: PhaseControl | None = None

    @property
    def lost(self) -> bool:
        return self._attempt is not None and self._newest > self._attempt

    def attach(self, control: PhaseControl, attempt: int) -> None:
        self._control, self._attempt = control, attempt
        self._apply()

    def __call__(self, events: Sequence[Any]) -> None:
        for e in events:
            if (
                type(e) is Generator.TakenOver
                and e.originator_id == self._gid
                and e.part == self._phase
            ):
                self._newest = max(self._newest, e.attempt)
        self._apply()

    def _apply(self) -> None:
        if self.lost and self._control is not None:
            self._control.interrupt()
