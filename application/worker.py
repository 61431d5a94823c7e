"""A worker: claims runnable parts of live generators from the shared store and runs them."""

import logging
import threading
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from ffwd.application.phase_follower import HEARD_BY_RUNNERS
from ffwd.application.ports import Pipelines
from ffwd.domain.errors import FfwdError
from ffwd.domain.generator import Generator

if TYPE_CHECKING:
    from ffwd.application.service import GeneratorService

log = logging.getLogger(__name__)
# Candidates read per look for work: the oldest claimable generators. A worker that loses
# the race for one (another claimed it first: a read and a rejected command) tries the next.
CANDIDATES = 16
# A cancelled generator's files are deleted by whoever cancels it when nothing runs, else by
# its runner; a worker also sweeps up generators cancelled this recently (a runner that died
# between the cancel and the deletion).
SWEEP_WINDOW = timedelta(minutes=10)
# Events after which a part may be claimable: a worker looks at once instead of at its next
# poll (which remains, for leases that run out: no event says so).
WAKING = (
    Generator.Created,
    Generator.PhaseSucceeded,
    Generator.StepSucceeded,
    Generator.PhaseReleased,
    Generator.StepReleased,
)
# What a worker follows of other processes: what its runners hear, and what wakes it.
FOLLOWED_BY_WORKERS = HEARD_BY_RUNNERS + WAKING


def utc_now() -> datetime:
    return datetime.now(UTC)


class Worker:
    """`concurrency` threads, each claiming one part at a time (a phase, or a pipeline step)
    of the oldest generator that has one; the aggregate is the lock (ADR 0016). Work is
    found through the store's summaries, so a look costs the same at any number of finished
    generators (ADR 0020)."""

    def __init__(
        self,
        service: "GeneratorService",
        orchestrator: Pipelines,
        *,
        concurrency: int = 1,
        poll_s: float = 1.0,
        clock: Callable[[], datetime] = utc_now,
        on_part: Callable[[str], None] | None = None,
    ) -> None:
        self.service = service
        self.orchestrator = orchestrator
        self.concurrency = concurrency
        self.poll_s = poll_s
        self.clock = clock
        self.on_part = on_part or (lambda _: None)
        self.stopping = threading.Event()
        self._grace_ends: float | None = None  # preempted: when the worker exits anyway
        self._wake = threading.Event()
        self._busy = 0
        self._lock = threading.Lock()
        self._swept: dict[UUID, datetime] = {}
        self._next_sweep = datetime.min.replace(tzinfo=UTC)

    def run(self, *, once: bool = False) -> None:
        """Work until `stop()` (finishing the parts in hand), or, with `once`, until no part
        is left to claim and none is running here."""
        # Not every event: with many workers, each reading every progress report of every
        # generator cost more than the work.
        unsubscribe = self.service.subscribe(self._hear)
        with self.service.following(FOLLOWED_BY_WORKERS):
            threads = [
                threading.Thread(
                    target=self._loop, args=(once,), name=f"ffwd-worker-{i}", daemon=True
                )
                for i in range(self.concurrency)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                while thread.is_alive():
                    thread.join(0.1)
                    if self._grace_ends is not None and time.monotonic() > self._grace_ends:
                        log.warning("grace period over: exiting with parts still in hand")
                        unsubscribe()
                        return
        unsubscribe()

    def stop(self) -> None:
        """Stop claiming; parts in hand run to their end (graceful shutdown)."""
        self.stopping.set()
        self._wake.set()

    def preempt(self, grace_s: float) -> None:
        """Shutting down (SIGTERM, a node drain): claim nothing more, hand every part in hand
        back at its next step boundary (another worker resumes it at once), and return from
        `run` within `grace_s` whatever happens; a part still in hand then is taken over when
        its lease ends (ADR 0026)."""
        self._grace_ends = time.monotonic() + grace_s
        self.stop()
        self.orchestrator.preempt()

    def idle(self) -> bool:
        """No part in hand, nor a look for one under way."""
        with self._lock:
            return self._busy == 0

    def _hear(self, events: Sequence[Any]) -> None:
        if any(type(e) in WAKING for e in events):
            self._wake.set()

    def _loop(self, once: bool) -> None:
        while not self.stopping.is_set():
            with self._lock:
                self._busy += 1
            failed = False
            try:
                worked = self._work_once()
            except Exception:  # the store is away (a restart, a network cut): try again
                log.exception("looking for work failed; trying again")
                worked, failed = False, True
            finally:
                with self._lock:
                    self._busy -= 1
                    idle_everywhere = self._busy == 0
            if worked:
                continue
            if once and idle_everywhere and not failed:
                return
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _work_once(self) -> bool:
        now = self.clock()
        self._sweep(now)
        for generator_id in self.service.store.claimable(now, CANDIDATES):
            try:
                worked = self.orchestrator.work_on(generator_id, now)
            except FfwdError as e:  # e.g. an engine this worker lacks: the others go on
                log.warning("generator %s not run here: %s: %s", generator_id, e.code, e)
                continue
            if worked:
                self.on_part(str(generator_id))
                return True
        return False

    def _sweep(self, now: datetime) -> None:
        """Delete the files of generators cancelled lately, once each per worker; a look at
        most once a poll interval (a worker woken for each new part must not look each time)."""
        with self._lock:
            if now < self._next_sweep:
                return
            self._next_sweep = now + timedelta(seconds=self.poll_s)
        since = now - SWEEP_WINDOW
        for generator_id in self.service.store.cancelled_since(since, CANDIDATES):
            with self._lock:
                if generator_id in self._swept:
                    continue
                self._swept[generator_id] = now
            self.orchestrator.discard_cancelled(generator_id)
        with self._lock:
            for generator_id, when in list(self._swept.items()):
                if when < since:
                    del self._swept[generator_id]
