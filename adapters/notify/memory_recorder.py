"""Delivery standing in memory, for `memory://` stores: the same rules, no database."""

import threading
import time
from dataclasses import replace

from eventsourcing.persistence import IntegrityError, Tracking
from eventsourcing.popo import POPOTrackingRecorder

from ffwd.adapters.notify.standing import DeadLetter, EndpointRecord, tracking_name


class POPODeliveryRecorder(POPOTrackingRecorder):
    """In memory, for `memory://` stores: the same rules, no database."""

    def __init__(self) -> None:
        super().__init__()
        self._records: dict[str, EndpointRecord] = {}
        self._letters: list[DeadLetter] = []
        self._lock = threading.Lock()

    def acquire(self, endpoint: str, owner: str, lease_s: float) -> bool:
        with self._lock:
            r = self._records.get(endpoint) or EndpointRecord(endpoint, None)
            if r.owner not in (None, owner) and (r.lease_until or 0) >= time.time():
                return False
            self._records[endpoint] = replace(r, owner=owner, lease_until=time.time() + lease_s)
            return True

    def release(self, endpoint: str, owner: str) -> None:
        with self._lock:
            r = self._records.get(endpoint)
            if r is not None and r.owner == owner:
                self._records[endpoint] = replace(r, owner=None, lease_until=None)

    def position(self, endpoint: str) -> int | None:
        return self.max_tracking_id(tracking_name(endpoint))

    def begin_at(self, endpoint: str, notification_id: int) -> None:
        with self._lock:
            if self.position(endpoint) is None:
                self.insert_tracking(Tracking(tracking_name(endpoint), notification_id))

    def delivered(self, endpoint: str, notification_id: int) -> None:
        with self._lock:
            if not self._advance(endpoint, notification_id):
                return
            r = self._records.get(endpoint) or EndpointRecord(endpoint, None)
            self._records[endpoint] = replace(
                r, delivered=r.delivered + 1, last_delivered_id=notification_id
            )

    def dead_lettered(self, letter: DeadLetter) -> None:
        with self._lock:
            if not self._advance(letter.endpoint, letter.notification_id):
                return
            self._letters.append(replace(letter, recorded_at=time.time()))
            r = self._records.get(letter.endpoint) or EndpointRecord(letter.endpoint, None)
            self._records[letter.endpoint] = replace(
                r,
                dead_lettered=r.dead_lettered + 1,
                last_dead_id=letter.notification_id,
                last_error=letter.error,
            )

    def redelivered(self, endpoint: str, notification_id: int) -> bool:
        with self._lock:
            letters = [
                x
                for x in self._letters
                if (x.endpoint, x.notification_id) == (endpoint, notification_id)
            ]
            if not letters:
                return False
            self._letters.remove(letters[0])
            left = [x.notification_id for x in self._letters if x.endpoint == endpoint]
            r = self._records.get(endpoint) or EndpointRecord(endpoint, None)
            self._records[endpoint] = replace(
                r,
                delivered=r.delivered + 1,
                dead_lettered=r.dead_lettered - 1,
                last_dead_id=max(left, default=None),
            )
            return True

    def record(self, endpoint: str) -> EndpointRecord:
        with self._lock:
            r = self._records.get(endpoint) or EndpointRecord(endpoint, None)
            return replace(r, position=self.position(endpoint))

    def dead_letters(self, endpoint: str, limit: int = 20) -> list[DeadLetter]:
        with self._lock:
            mine = [x for x in self._letters if x.endpoint == endpoint]
            return sorted(mine, key=lambda x: -x.notification_id)[:limit]

    def _advance(self, endpoint: str, notification_id: int) -> bool:
        try:
            self.insert_tracking(Tracking(tracking_name(endpoint), notification_id))
        except IntegrityError:
            return False
        return True
