"""What runs inside a Ray task: one claimed part, with its own service on the store, following
the store as a plain worker's part does (stops, cancels, takeovers reach it there)."""

import os
import signal
import socket
import threading
from collections.abc import Iterator

from ffwd.application.leases import durably
from ffwd.application.phase_follower import HEARD_BY_RUNNERS
from ffwd.application.placement import ClaimedPart
from ffwd.application.service import GeneratorService

# One service per store and data folder in each Ray worker process: a task reuses the
# connections and engines the tasks before it in this process opened.
_services: dict[tuple[str, str], GeneratorService] = {}
_lock = threading.Lock()


def service_for(store: str, data: str) -> GeneratorService:
    from ffwd.adapters.container import build_service

    with _lock:
        if (store, data) not in _services:
            _services[store, data] = build_service(store, data)
        return _services[store, data]


def run_part(store: str, data: str, lease_s: float, claimed: ClaimedPart) -> Iterator[dict]:
    """Yields where it runs as soon as it begins, then runs the part to its end. Ray's cancel
    (a KeyboardInterrupt in this thread) hands the part back at its next step boundary: the
    part runs in a thread of its own, so the interrupt never lands inside its work."""
    if threading.current_thread() is threading.main_thread():
        # Ray's cancel is a SIGINT: a worker that inherited it ignored (a cluster started
        # from a background shell, under nohup) would never hand its part back.
        signal.signal(signal.SIGINT, signal.default_int_handler)
    yield {"host": socket.gethostname(), "pid": os.getpid()}
    # A store restarting is waited for, as a runner's reports wait for it (ADR 0016).
    svc = durably(lambda: service_for(store, data), "opening the store")
    orchestrator = svc.orchestrator(lease_s=lease_s)
    failure: list[BaseException] = []

    def work() -> None:
        try:
            orchestrator.run_claimed(claimed)
        except BaseException as e:  # raised again in the task's own thread, for Ray to report
            failure.append(e)

    part = threading.Thread(target=work, name=f"ffwd-{claimed.part}", daemon=True)
    with svc.following(HEARD_BY_RUNNERS):
        part.start()
        while part.is_alive():
            try:
                part.join(0.1)
            except KeyboardInterrupt:
                orchestrator.preempt()
    if failure:
        raise failure[0]
    yield {"ended": True}
