"""Cross-process delivery: follow the stored event log by polling, for stores without push.

A stop stored by another process (`ffwd stop` in a second terminal) reaches the phase's
control through this follower within one poll interval (ADR 0007). SQLite has no
subscriptions; polling a primary-key range is one cheap indexed SELECT.
"""

import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any

from ffwd.adapters.storage.event_store import EventSourcedStore

DEFAULT_POLL_S = 0.05
log = logging.getLogger(__name__)
_PAGE = 500


class PollingFollower:
    """The EventFeed port: calls a listener with every event stored after it started."""

    def __init__(self, store: EventSourcedStore, poll_s: float = DEFAULT_POLL_S) -> None:
        self.store = store
        self.poll_s = poll_s

    def follow(
        self, listener: Callable[[Sequence[Any]], None], topics: Sequence[str] = ()
    ) -> Callable[[], None]:
        """Start following in a daemon thread (events of `topics` only, when given);
        returns the function that stops it."""
        recorder, mapper = self.store.app.recorder, self.store.app.mapper
        position = recorder.max_notification_id() or 0
        stopped = threading.Event()

        def poll() -> None:
            nonlocal position
            while not stopped.wait(self.poll_s):
                try:
                    notifications = recorder.select_notifications(
                        position + 1, _PAGE, topics=list(topics)
                    )
                    events = [mapper.to_domain_event(n) for n in notifications]
                except Exception:  # a store hiccup must not end delivery: try again next poll
                    log.warning("polling the event log failed", exc_info=True)
                    continue
                if notifications:
                    position = notifications[-1].id
                    try:
                        listener(events)
                    except Exception:  # a listener's bug must not end delivery for good
                        log.exception("an event listener failed")

        thread = threading.Thread(target=poll, name="ffwd-follower", daemon=True)
        thread.start()

        def stop() -> None:
            stopped.set()
            thread.join()

        return stop
