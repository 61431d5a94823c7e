"""Runs generators created through the API in background threads of the server."""

import logging
import threading
from uuid import UUID

from ffwd.application.service import GeneratorService
from ffwd.domain.errors import FfwdError

log = logging.getLogger("ffwd.http")


class BackgroundRuns:
    """`svc.run(gid)` in a daemon thread per generator created through this server."""

    def __init__(self, svc: GeneratorService, progress_interval_s: float = 1.0) -> None:
        self.svc = svc
        self.progress_interval_s = progress_interval_s
        self._threads: dict[UUID, threading.Thread] = {}
        self._lock = threading.Lock()

    def start(self, generator_id: UUID) -> None:
        thread = threading.Thread(
            target=self._run, args=(generator_id,), name=f"ffwd-run-{generator_id}", daemon=True
        )
        with self._lock:
            self._threads[generator_id] = thread
        thread.start()

    def _run(self, generator_id: UUID) -> None:
        try:
            view = self.svc.run(generator_id, progress_interval_s=self.progress_interval_s)
            log.info("generator %s %s", generator_id, view.state)
        except FfwdError as e:  # e.g. another worker claimed it first
            log.warning("generator %s not run here: %s: %s", generator_id, e.code, e)
        except Exception:
            log.exception("generator %s: the run failed", generator_id)
        finally:
            with self._lock:
                self._threads.pop(generator_id, None)

    def running(self) -> list[UUID]:
        with self._lock:
            return list(self._threads)

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the runs started so far (tests, shutdown)."""
        with self._lock:
            threads = list(self._threads.values())
        for thread in threads:
            thread.join(timeout_s)
