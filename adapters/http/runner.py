"""`ffwd serve --workers N`: a worker inside the server, running the queued generators of its
store, whoever queued them (the API, `ffwd run --detach`, `ffwd continue --detach`), at most
N parts at once; the same claims as `ffwd worker` (ADR 0016, ADR 0020)."""

import logging
import threading
import time
from datetime import UTC, datetime

from ffwd.application.service import GeneratorService
from ffwd.application.worker import Worker

log = logging.getLogger("ffwd.http")
STOP_GRACE_S = 3.0


class ServerWorkers:
    def __init__(
        self,
        svc: GeneratorService,
        count: int,
        *,
        progress_interval_s: float = 1.0,
        poll_s: float = 1.0,
    ) -> None:
        self.svc = svc
        pipelines = svc.orchestrator(progress_interval_s=progress_interval_s)
        self.worker = Worker(svc, pipelines, concurrency=count, poll_s=poll_s)
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="ffwd-serve-worker", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        try:
            self.worker.run()
        except Exception:  # the server goes on answering: say why nothing runs any more
            log.exception("the server's worker stopped")

    def stop(self, grace_s: float = STOP_GRACE_S) -> None:
        """The server is shutting down: claim nothing more, hand the parts in hand back at
        their next step boundary (another worker resumes them at once), and wait up to
        `grace_s` for that."""
        self.worker.preempt(grace_s)
        if self._thread is not None:
            self._thread.join(grace_s + 1)

    def wait_idle(self, timeout_s: float) -> bool:
        """Until no part runs here and none is left to claim (for tests and shutdowns)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.worker.idle() and not self.svc.store.claimable(datetime.now(UTC), 1):
                return True
            time.sleep(0.05)
        return False
