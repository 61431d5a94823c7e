"""A worker: claims runnable parts of live generators from the shared store and runs them."""

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from ffwd.application.ports import Pipelines
from ffwd.domain.lifecycle import CANCELLED, TERMINAL

if TYPE_CHECKING:
    from ffwd.application.service import GeneratorService

log = logging.getLogger(__name__)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Worker:
    """`concurrency` threads, each claiming one part at a time (a phase, or a pipeline step)
    of the oldest live generator that has one; the aggregate is the lock (ADR 0016)."""

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
        self._busy = 0
        self._lock = threading.Lock()
        self._ended: set = set()  # generators seen terminal: they never change again

    def run(self, *, once: bool = False) -> None:
        """Work until `stop()` (finishing the parts in hand), or, with `once`, until no part
        is left to claim and none is running here."""
        with self.service.following():
            threads = [
                threading.Thread(target=self._loop, args=(once,), name=f"ffwd-worker-{i}")
                for i in range(self.concurrency)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()

    def stop(self) -> None:
        """Stop claiming; parts in hand run to their end (graceful shutdown)."""
        self.stopping.set()

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
            self.stopping.wait(self.poll_s)

    def _work_once(self) -> bool:
        for generator_id in self._live():
            if self.orchestrator.work_on(generator_id, self.clock()):
                self.on_part(str(generator_id))
                return True
        return False

    def _live(self) -> list:
        """Live generators, oldest first. A generator seen terminal is never read again
        (RULES.md inv. 1), so a look for work costs the live generators, not the history;
        one seen cancelled has its files removed then: the cancel may have landed between
        two parts, with no runner there to see it (RULES.md inv. 6)."""
        live = []
        for generator_id in self.service.store.generator_ids():
            if generator_id in self._ended:
                continue
            state = self.service.get_generator(generator_id).state
            if state in TERMINAL:
                if state == CANCELLED:
                    self.orchestrator.discard_cancelled(generator_id)
                self._ended.add(generator_id)
            else:
                live.append(generator_id)
        return live
