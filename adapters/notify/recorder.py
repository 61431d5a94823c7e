"""Where delivery stands, durably, in the store's own database.

Each endpoint's position (the last notification it is done with) is a row of the library's
tracking table, named `ffwd.notify:<endpoint>`, written in the same transaction as the
endpoint's counters and its dead letters: the library's TrackingRecorder classes, extended
with two tables as its projection docs suggest for a materialised view. A lease in the
endpoint's row lets one process at a time deliver to an endpoint, so workers that all run
with `--notify` do not each send everything; the database's clock times the lease.
"""

import time
import weakref
from typing import Any

from eventsourcing.persistence import IntegrityError

from ffwd.adapters.notify.memory_recorder import POPODeliveryRecorder
from ffwd.adapters.notify.sql_recorder import SQLiteDeliveryRecorder, postgres_recorder_class
from ffwd.adapters.notify.standing import DeadLetter, DeliveryRecorder, EndpointRecord

__all__ = ["DeadLetter", "DeliveryRecorder", "EndpointRecord", "delivery_recorder"]
CREATE_ATTEMPTS = 3

_in_memory: "weakref.WeakKeyDictionary[Any, POPODeliveryRecorder]" = weakref.WeakKeyDictionary()


def delivery_recorder(app: Any) -> DeliveryRecorder:
    """The recorder for an eventsourcing Application's database (its tracking table), its
    tables created if missing."""
    from eventsourcing.popo import POPOFactory
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if isinstance(app.recorder, SQLiteApplicationRecorder):
        return app.factory.tracking_recorder(SQLiteDeliveryRecorder)
    if isinstance(app.factory, POPOFactory):
        # One per in-memory store, so that every delivery in the process shares its state.
        return _in_memory.setdefault(app, POPODeliveryRecorder())
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return app.factory.tracking_recorder(postgres_recorder_class())
        except IntegrityError:
            # Workers starting together race in CREATE TABLE IF NOT EXISTS (PostgreSQL checks
            # the catalog before it locks); the loser finds the tables on the next try.
            if attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
    raise AssertionError("unreachable")
