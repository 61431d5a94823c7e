"""The Notifier port in memory, for tests: keeps what it was sent, fails or hangs on request."""

import threading
from collections.abc import Iterable

from ffwd.adapters.notify.notices import DEFAULT_EVENTS
from ffwd.application.ports import DeliveryFailed, Notice


class InMemoryNotifier:
    """Records every notice it accepts, with the thread that delivered it.

    `fail_next(n)` makes the next n attempts fail; `hold()` makes attempts wait until
    `release()` (a hanging endpoint).
    """

    def __init__(self, name: str = "memory", events: Iterable[str] = DEFAULT_EVENTS) -> None:
        self.name = name
        self.events = frozenset(events)
        self.notices: list[Notice] = []
        self.attempts: list[tuple[str, int]] = []
        self.threads: set[int] = set()
        self._failures = 0
        self._retryable = True
        self._open = threading.Event()
        self._open.set()
        self.waiting = threading.Event()
        self._lock = threading.Lock()

    def wants(self, notice_type: str) -> bool:
        return notice_type in self.events

    def send(self, notice: Notice, attempt: int) -> None:
        with self._lock:
            self.attempts.append((notice.key, attempt))
            self.threads.add(threading.get_ident())
        if not self._open.is_set():
            self.waiting.set()
            self._open.wait()
        with self._lock:
            if self._failures:
                self._failures -= 1
                raise DeliveryFailed("failing on request", retryable=self._retryable)
            self.notices.append(notice)

    def fail_next(self, n: int, *, retryable: bool = True) -> None:
        with self._lock:
            self._failures, self._retryable = n, retryable

    def hold(self) -> None:
        self._open.clear()

    def release(self) -> None:
        self._open.set()

    @property
    def keys(self) -> list[str]:
        with self._lock:
            return [n.key for n in self.notices]
