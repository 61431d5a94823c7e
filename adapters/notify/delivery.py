"""One endpoint's delivery: follow the stored log in its own thread, at least once, in order.

The position is recorded after each notice is taken (or dead-lettered), never before, so a
crash repeats at most the notice in flight. Notices go out one at a time in log order, which
keeps each generator's order. Attempts are bounded; then the notice is dead-lettered and
delivery moves on (ADR 0014).
"""

import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import ConnectionPoolClosedError

from ffwd.adapters.notify.logs import reports
from ffwd.adapters.notify.notices import notice_of, topics_of
from ffwd.adapters.notify.recorder import DeadLetter, DeliveryRecorder, EndpointRecord
from ffwd.application.ports import DeliveryFailed, Notice, Notifier

PAGE = 100
MAX_ERROR_PAUSE_S = 5.0
JOIN_S = 1.0


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff_s: float = 0.5
    max_backoff_s: float = 30.0

    def delay(self, failed_attempt: int, retry_after_s: float | None = None) -> float:
        """Seconds before the next attempt: doubling from `backoff_s`, capped, half of it
        random (so endpoints recovering from an outage are not hit in lockstep); at least
        what the receiver asked for in Retry-After, up to the cap."""
        cap = min(self.max_backoff_s, self.backoff_s * 2 ** (failed_attempt - 1))
        delay = cap / 2 + random.uniform(0, cap / 2)
        if retry_after_s is not None:
            delay = max(delay, min(retry_after_s, self.max_backoff_s))
        return delay


class LogSource:
    """The store's notification log, read as notices of chosen types."""

    def __init__(self, app: Any, link_base: str | None = None) -> None:
        # Holding the Application itself matters: it closes its database when collected.
        self.app, self.link_base = app, link_base
        self.recorder, self.mapper = app.recorder, app.mapper

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    def notice_at(self, notification_id: int) -> Notice | None:
        """The notice of one stored notification, if it is one."""
        found = self.recorder.select_notifications(notification_id, 1)
        if not found or found[0].id != notification_id:
            return None
        return notice_of(self.mapper.to_domain_event(found[0]), self.link_base)

    def after(self, position: int, limit: int, topics: Sequence[str]) -> list[tuple[int, Notice]]:
        found = self.recorder.select_notifications(position + 1, limit, topics=topics)
        page = []
        for n in found:
            notice = notice_of(self.mapper.to_domain_event(n), self.link_base)
            if notice is not None:
                page.append((n.id, notice))
        return page


def owner_id() -> str:
    """This process and delivery, as named in the lease: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class EndpointDelivery:
    """Delivers the notices `notifier` wants from `source`, recording progress in `recorder`."""

    def __init__(
        self,
        notifier: Notifier,
        source: LogSource,
        recorder: DeliveryRecorder,
        *,
        types: Sequence[str],
        policy: RetryPolicy | None = None,
        poll_s: float = 0.2,
        lease_s: float = 30.0,
        start: str = "latest",
        owner: str | None = None,
    ) -> None:
        self.notifier, self.source, self.recorder = notifier, source, recorder
        self.name = notifier.name
        self.topics = topics_of(t for t in types if notifier.wants(t))
        self.policy = policy or RetryPolicy()
        self.poll_s, self.lease_s, self.start_at = poll_s, lease_s, start
        self.owner = owner or owner_id()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._caught_up_at = -1.0  # when the last poll that found nothing began
        self._failing = False
        self._thread = threading.Thread(target=self._run, name=f"ffwd-notify-{self.name}")
        self._thread.daemon = True

    def start(self) -> "EndpointDelivery":
        """Fix the first position now (so nothing stored after this call is missed), then
        deliver in a daemon thread."""
        try:
            if self.recorder.acquire(self.name, self.owner, self.lease_s):
                self._begin()
        except Exception:  # the thread tries again; a store hiccup must not stop the caller
            reports.warning("notify.store_error", endpoint=self.name, exc_info=True)
        self._thread.start()
        return self

    def stop(self, drain_s: float = 0.0) -> bool:
        """Stop delivering, after waiting up to `drain_s` for what is stored to go out;
        True when it had caught up. What is left goes out at the next start."""
        requested = time.monotonic()
        self._wake.set()
        deadline = requested + drain_s
        while self._caught_up_at < requested and time.monotonic() < deadline:
            if not self._thread.is_alive():
                break
            time.sleep(0.01)
        caught_up = self._caught_up_at >= requested
        self._stop.set()
        self._wake.set()
        self._thread.join(timeout=JOIN_S)  # a daemon: an attempt still hanging is abandoned
        return caught_up

    def record(self) -> EndpointRecord:
        return self.recorder.record(self.name)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def redeliver(self, limit: int = 1000) -> list[tuple[DeadLetter, str | None]]:
        """Send the endpoint's dead letters again, oldest first, in the caller's thread, each
        with the endpoint's bounded attempts; one that goes out leaves the dead letters.
        Each letter comes back with None (delivered) or why it is still a dead letter.

        Dead letters are outside the ordered stream, so this needs no lease and may run
        beside the endpoint's delivery; a letter two redeliveries both send is one more
        repeat, which receivers already drop by its Idempotency-Key."""
        results: list[tuple[DeadLetter, str | None]] = []
        for letter in reversed(self.recorder.dead_letters(self.name, limit)):
            notice = self.source.notice_at(letter.notification_id)
            if notice is None:
                results.append((letter, "its event is no longer in the store"))
                continue
            outcome = self._deliver(notice, in_stream=False)
            if outcome is True:
                self.recorder.redelivered(self.name, letter.notification_id)
                reports.info("notify.redelivered", endpoint=self.name, key=letter.key)
                results.append((letter, None))
            else:
                assert outcome is not None  # outside the stream, nothing interrupts it
                results.append((letter, outcome[1]))
        return results

    def _begin(self) -> None:
        if self.recorder.position(self.name) is None:
            first = self.source.head() if self.start_at == "latest" else 0
            self.recorder.begin_at(self.name, first)

    def _run(self) -> None:
        errors = 0
        try:
            while not self._stop.is_set():
                began = time.monotonic()
                try:
                    if not self.recorder.acquire(self.name, self.owner, self.lease_s):
                        self._caught_up_at = began  # another process delivers: nothing to drain
                        self._pause(min(self.lease_s / 2, 1.0))
                        continue
                    self._begin()
                    found = self._deliver_page()
                except ConnectionPoolClosedError:
                    reports.error("notify.store_closed", endpoint=self.name)
                    return
                except Exception:
                    # A store hiccup must not end delivery: try again, less often while it lasts.
                    errors += 1
                    reports.warning("notify.store_error", endpoint=self.name, exc_info=True)
                    self._pause(min(self.poll_s * 2**errors, MAX_ERROR_PAUSE_S))
                    continue
                errors = 0
                if not found:
                    self._caught_up_at = began
                    self._pause(self.poll_s)
        finally:
            try:
                self.recorder.release(self.name, self.owner)
            except Exception:  # the lease then runs out by itself
                reports.warning("notify.store_error", endpoint=self.name, exc_info=True)

    def _pause(self, seconds: float) -> None:
        self._wake.wait(seconds)
        self._wake.clear()

    def _deliver_page(self) -> bool:
        position = self.recorder.position(self.name) or 0
        page = self.source.after(position, PAGE, self.topics)
        for notification_id, notice in page:
            if self._stop.is_set():
                break
            outcome = self._deliver(notice)
            if outcome is None:
                break  # stopped, or the lease was lost: the next owner sends it again
            if outcome is True:
                self.recorder.delivered(self.name, notification_id)
                self._recovered()
            else:
                letter = DeadLetter(self.name, notification_id, notice.key, notice.type, *outcome)
                self.recorder.dead_lettered(letter)
                self._dead(letter)
        return bool(page)

    def _deliver(self, notice: Notice, in_stream: bool = True) -> bool | tuple[int, str] | None:
        """True when taken; (attempts, last error) when given up; None when interrupted: the
        delivery stopped, or its lease was lost. A notice sent outside the stream (a dead
        letter sent again) is neither leased nor stopped."""
        error = ""
        stop = self._stop if in_stream else threading.Event()
        for attempt in range(1, self.policy.max_attempts + 1):
            if (
                in_stream
                and attempt > 1
                and not self.recorder.acquire(self.name, self.owner, self.lease_s)
            ):
                return None
            retry_after = None
            try:
                self.notifier.send(notice, attempt)
                return True
            except DeliveryFailed as e:
                error, retryable, retry_after = str(e), e.retryable, e.retry_after_s
            except Exception as e:  # a notifier's own bug is still bounded by the attempts
                error, retryable = f"{type(e).__name__}: {e}", True
            if stop.is_set():
                return None  # abandoned at stop (an attempt outlived the drain): sent next time
            reports.warning(
                "notify.attempt_failed",
                endpoint=self.name,
                key=notice.key,
                type=notice.type,
                attempt=attempt,
                error=error,
                retryable=retryable,
            )
            if not retryable:
                return attempt, error
            if attempt < self.policy.max_attempts and stop.wait(
                self.policy.delay(attempt, retry_after)
            ):
                return None
        return self.policy.max_attempts, error

    def _dead(self, letter: DeadLetter) -> None:
        reports.error(
            "notify.dead_lettered",
            endpoint=self.name,
            key=letter.key,
            type=letter.type,
            attempts=letter.attempts,
            error=letter.error,
        )
        if not self._failing:
            self._failing = True
            reports.error("notify.endpoint_failing", endpoint=self.name, error=letter.error)

    def _recovered(self) -> None:
        if self._failing:
            self._failing = False
            reports.info("notify.endpoint_recovered", endpoint=self.name)
