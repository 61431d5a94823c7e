"""A driver's pipelines: parts claimed here, exactly as a worker claims them, and run where a
cluster places them; the store stays the truth about who holds what (ADR 0027)."""

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from ffwd.application.leases import durably
from ffwd.application.orchestrator import Orchestrator
from ffwd.application.placement import ClaimedPart, Ending, PlacedRun, Placement, Unplaceable
from ffwd.application.ports import RunnerCommands
from ffwd.domain import errors
from ffwd.domain.generator import DEFAULT_LEASE_S, Generator
from ffwd.domain.lifecycle import RUNNING, STOPPING, TERMINAL

log = logging.getLogger(__name__)
# A runner lost this many times in a row (its process killed each time: out of memory, a
# crashing library) fails its part, saying why, instead of being placed again and again.
MAX_LOST = 3
TICK_S = 0.2
# A runner not begun after this long waits for its resources (Ray queues it until a machine
# has them free): the view says so, and what it asked for.
SAY_WAITING_S = 2.0


class AttemptWatch:
    """Hears the end of one attempt in the store: its generator cancelled or failed, or its
    part taken over by another attempt."""

    def __init__(self, claimed: ClaimedPart) -> None:
        self._claimed = claimed
        self.over = threading.Event()

    def __call__(self, events: Sequence[Any]) -> None:
        c = self._claimed
        for e in events:
            if e.originator_id != c.generator_id:
                continue
            kind = type(e)
            if kind in (Generator.Cancelled, Generator.Failed) or (
                kind is Generator.TakenOver and e.part == c.part and e.attempt > c.attempt
            ):
                self.over.set()

    def look(self, g: Generator) -> None:
        """What the store says now (an event before the watch began)."""
        held = g.part(self._claimed.part)
        if g.state in TERMINAL or held.attempt != self._claimed.attempt:
            self.over.set()


class PlacedPipelines:
    """The Pipelines port of a driver: `work_on` claims the next part of a generator and
    places its runner; the runner hears stops and cancels through the store, as a worker's
    part does. The driver renews the claim while the runner waits for its resources, kills a
    runner still going `kill_after_s` after its attempt ended in the store (a cancel), and
    takes a part over at once when its runner is lost (ADR 0027)."""

    def __init__(
        self,
        commands: RunnerCommands,
        orchestrator: Orchestrator,
        placement: Placement,
        *,
        lease_s: float = DEFAULT_LEASE_S,
        kill_after_s: float = 10.0,
        on_start: Callable[[ClaimedPart, PlacedRun], None] | None = None,
    ) -> None:
        self.commands = commands
        self.orchestrator = orchestrator
        self.placement = placement
        self.lease_s = lease_s
        self.kill_after_s = kill_after_s
        self.on_start = on_start or (lambda *_: None)
        self._preempted = threading.Event()
        self._in_hand: dict[tuple[UUID, str], tuple[ClaimedPart, PlacedRun]] = {}
        self._lock = threading.Lock()

    def run(self, generator_id: UUID) -> None:
        raise errors.NotApplicable("a driver runs the parts it claims (`ffwd worker --ray`)")

    def work_on(self, generator_id: UUID, now: datetime) -> bool:
        claimed = self.orchestrator.claim_next(generator_id, now)
        if claimed is None:
            return False
        try:
            self._run(claimed)
        finally:
            self.orchestrator.discard_cancelled(generator_id)
        return True

    def discard_cancelled(self, generator_id: UUID) -> bool:
        return self.orchestrator.discard_cancelled(generator_id)

    def preempt(self) -> None:
        """Claim nothing more; each placed runner hands its part back at its next step
        boundary, and one still waiting for resources is ended and its part handed back."""
        self._preempted.set()
        self.orchestrator.preempt()
        with self._lock:
            in_hand = list(self._in_hand.values())
        for _, placed in in_hand:
            if placed.started:
                placed.release()
            else:
                placed.kill()

    def _run(self, claimed: ClaimedPart) -> None:
        for lost in range(1, MAX_LOST + 1):
            try:
                placed = self.placement.start(claimed)
            except Unplaceable as e:
                self._fail(claimed, str(e))
                return
            ending = self._follow(claimed, placed)
            if ending.lost is None:
                return
            if self._preempted.is_set():
                return  # nothing more is started here: the lease hands it on
            log.warning(
                "the runner of %s of %s was lost: %s",
                claimed.part,
                claimed.generator_id,
                ending.lost,
            )
            if lost == MAX_LOST:
                self._fail(claimed, f"its runner was lost {lost} times in a row; {ending.lost}")
                return
            try:
                attempt = self.commands.take_over(
                    claimed.generator_id,
                    claimed.part,
                    self.orchestrator.worker,  # who claimed it: its holder
                    datetime.now(UTC),
                    self.lease_s,
                    lost=claimed.attempt,
                )
            except errors.FfwdError as e:  # ended meanwhile, or another attempt holds it
                log.info("%s of %s not taken over: %s", claimed.part, claimed.generator_id, e)
                return
            claimed = replace(claimed, attempt=attempt)

    def _follow(self, claimed: ClaimedPart, placed: PlacedRun) -> Ending:
        """Wait for the runner's end: renew the claim while it waits for resources, kill it
        when it outlives its attempt by `kill_after_s` (at once when it never began), and after
        a hand-back wait until the store has it."""
        watch = AttemptWatch(claimed)
        placed_at = time.monotonic()
        beat_every, next_beat = self.lease_s / 3, placed_at + self.lease_s / 3
        over_at: float | None = None
        announced = said_waiting = False
        with self._holding(claimed, placed, watch):
            while True:
                ending = placed.wait(TICK_S)
                if placed.started and not announced:
                    announced = True
                    self.on_start(claimed, placed)
                    if said_waiting:
                        self._say_waiting(claimed, None, watch)
                if ending is not None:
                    if self._preempted.is_set():
                        self._handed_back(claimed, placed)
                    return ending
                now = time.monotonic()
                if not placed.started and not said_waiting and now - placed_at > SAY_WAITING_S:
                    said_waiting = True
                    self._say_waiting(claimed, str(claimed.resources), watch)
                if not placed.started and now >= next_beat:
                    next_beat = now + beat_every
                    self._heartbeat(claimed, watch)
                if watch.over.is_set() and over_at is None:
                    over_at = now
                    if not placed.started:  # still queued: nothing to lose, its slot freed now
                        placed.kill()
                        over_at = float("inf")
                if over_at is not None and now - over_at > self.kill_after_s:
                    log.warning(
                        "%s of %s outlived its attempt: ended", claimed.part, claimed.generator_id
                    )
                    placed.kill()
                    over_at = float("inf")

    @contextmanager
    def _holding(
        self, claimed: ClaimedPart, placed: PlacedRun, watch: AttemptWatch
    ) -> Iterator[None]:
        key = (claimed.generator_id, claimed.part)
        unsubscribe = self.commands.subscribe(watch)
        with self._lock:
            self._in_hand[key] = (claimed, placed)
        try:
            watch.look(self.commands.get_generator(claimed.generator_id))
            if self._preempted.is_set():  # preempted while it was being placed
                placed.kill()
            yield
        finally:
            with self._lock:
                self._in_hand.pop(key, None)
            unsubscribe()

    def _heartbeat(self, claimed: ClaimedPart, watch: AttemptWatch) -> None:
        try:
            self.commands.heartbeat(claimed.generator_id, claimed.part, claimed.attempt)
        except errors.StoreUnavailable as e:
            log.warning("heartbeat failed: %s", e)
        except errors.FfwdError:
            watch.over.set()  # cancelled or taken over

    def _say_waiting(
        self, claimed: ClaimedPart, resources: str | None, watch: AttemptWatch
    ) -> None:
        """In the view: the part waits for its resources (or no longer)."""
        gid, part = claimed.generator_id, claimed.part
        try:
            self.commands.wait_for_resources(gid, part, claimed.attempt, resources)
        except errors.StoreUnavailable as e:
            log.warning("%s of %s waits for resources, unsaid: %s", part, gid, e)
        except errors.FfwdError:
            watch.over.set()  # cancelled or taken over

    def _handed_back(self, claimed: ClaimedPart, placed: PlacedRun) -> None:
        """After a preemption: wait until the store no longer has the part held by this
        attempt (the runner released it at a boundary); a runner that never began hands
        nothing back itself, so it is handed back here (the worker's grace bounds it all)."""
        if not placed.started:
            self._release_unstarted(claimed)
        while True:
            g = self.commands.get_generator(claimed.generator_id)
            held = g.part(claimed.part)
            if held.attempt != claimed.attempt or held.state not in (RUNNING, STOPPING):
                return
            if g.state in TERMINAL:
                return
            time.sleep(TICK_S)

    def _release_unstarted(self, claimed: ClaimedPart) -> None:
        gid, part, attempt = claimed.generator_id, claimed.part, claimed.attempt

        def release() -> None:
            g = self.commands.get_generator(gid)
            if part not in g.phases:
                self.commands.release_step(gid, part, attempt)
                return
            p = g.phases[part]
            self.commands.release_phase(
                gid,
                part,
                attempt,
                epoch=p.epoch,
                step=p.step,
                elapsed_s=p.elapsed_s,
                kept=p.last_kept,
            )

        try:
            durably(release, f"handing {part} of {gid} back")
        except errors.FfwdError as e:  # ended or stopping meanwhile: nothing to hand back
            log.info("%s of %s not handed back: %s", part, gid, e)

    def _fail(self, claimed: ClaimedPart, why: str) -> None:
        gid, part, attempt = claimed.generator_id, claimed.part, claimed.attempt

        def fail() -> None:
            if part in self.commands.get_generator(gid).phases:
                self.commands.fail_phase(gid, part, attempt, why)
            else:
                self.commands.fail_step(gid, part, attempt, why)

        try:
            durably(fail, f"failing {part} of {gid}")
        except errors.FfwdError as e:  # ended meanwhile
            log.info("%s of %s not failed: %s", part, gid, e)
