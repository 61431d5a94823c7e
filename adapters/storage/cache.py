"""The latest known state of recently used generators, kept in memory and handed out as copies
(ADR 0005, ADR 0017).

A deep copy of a generator cost ~100 us (mostly its spec): `copy_generator` copies only the
parts that event bodies change, and a save applies its stored events to the kept state in
place instead of copying the saved aggregate (`Cache.advance`).
"""

import threading
from collections import OrderedDict
from collections.abc import Iterable, Sequence
from dataclasses import is_dataclass
from functools import cache
from typing import Any, get_args, get_origin, get_type_hints
from uuid import UUID

from ffwd.domain.generator import Generator

UNVERIFIED = -1  # the epoch of a kept generator not yet checked against the log


def project_generator(generator: Generator | None, events: Iterable[Any]) -> Generator | None:
    """Replay events; the library's default projector spends most of its time in a runtime
    Protocol check on every event (ARCHITECTURE.md, ADR 0005)."""
    for event in events:
        generator = event.mutate(generator)
    return generator


@cache
def _parts(cls: type) -> tuple[tuple[str, type], ...]:
    """The attributes of an aggregate class that hold its parts, by annotation: a dataclass,
    or a dict or list of dataclasses, e.g. `phases: dict[str, Phase]` -> ("phases", dict)."""
    found = []
    for name, hint in get_type_hints(cls).items():
        args = get_args(hint)
        if is_dataclass(hint):
            found.append((name, object))
        elif get_origin(hint) in (dict, list) and args and is_dataclass(args[-1]):
            found.append((name, get_origin(hint)))
    return tuple(found)


def _copy_part(part: Any) -> Any:
    clone = object.__new__(type(part))
    clone.__dict__.update(part.__dict__)
    return clone


def copy_generator(aggregate: Generator) -> Generator:
    """A copy that shares nothing that event bodies change: its own attributes, and its own
    copies of its parts (the dataclasses its annotations declare, e.g. phases and steps).

    Everything else is shared: plain values recorded from events (spec, outputs, reasons,
    checkpoints), which event bodies only ever assign, never change in place (ARCHITECTURE.md).
    A deep copy costs ~100 us here (mostly the spec), this one a few.
    """
    state = aggregate.__dict__.copy()
    for name, holder in _parts(type(aggregate)):
        value = state.get(name)
        if value is None:
            continue
        if holder is dict:
            state[name] = {key: _copy_part(part) for key, part in value.items()}
        elif holder is list:
            state[name] = [_copy_part(part) for part in value]
        else:
            state[name] = _copy_part(value)
    state["_pending_events"] = []
    clone = object.__new__(type(aggregate))
    object.__setattr__(clone, "__dict__", state)
    return clone


class _Entry:
    """A kept generator, and the epoch at which it was last known to be the latest state."""

    __slots__ = ("epoch", "generator")

    def __init__(self, generator: Generator, epoch: int) -> None:
        self.generator, self.epoch = generator, epoch


class Cache:
    """The latest known state of recently used generators, least recently used evicted first.

    Kept generators are private: handed out only as copies, and read, copied or advanced only
    under one lock, so threads share them without per-generator locks. A failed save never
    reaches them: only events already stored are applied.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[UUID, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def state(self, generator_id: UUID) -> tuple[int, int] | None:
        """The kept version and the epoch it was last known to be the latest at."""
        with self._lock:
            entry = self._items.get(generator_id)
            return None if entry is None else (entry.generator.version, entry.epoch)

    def copy(self, generator_id: UUID, latest: int, epoch: int) -> Generator | None:
        """A copy of the kept state if it has at least version `latest`, the latest stored
        as of `epoch`, which it is then known to be current at; else None."""
        with self._lock:
            entry = self._items.get(generator_id)
            if entry is None or entry.generator.version < latest:
                return None
            entry.epoch = max(entry.epoch, epoch)
            self._items.move_to_end(generator_id)
            return copy_generator(entry.generator)

    def current(self, generator_id: UUID) -> Generator | None:
        """A copy of the kept state, without checking the log; None when none is kept or it
        may be behind the log."""
        with self._lock:
            entry = self._items.get(generator_id)
            if entry is None or entry.epoch == UNVERIFIED:
                return None
            self._items.move_to_end(generator_id)
            return copy_generator(entry.generator)

    def replace(self, generator: Generator) -> None:
        """Keep `generator`, whose events are stored and which nobody else holds, in place of
        an older kept state: no copy, nothing re-applied. Storing the next events proved the
        kept state was the latest, so the epoch it was known at still holds."""
        with self._lock:
            entry = self._items.get(generator.id)
            if entry is not None:
                if entry.generator.version < generator.version:
                    entry.generator = generator
                return
        self.adopt(generator, UNVERIFIED)

    def distrust(self, generator_id: UUID) -> None:
        """The kept state may be behind the log: the next get looks for newer events."""
        with self._lock:
            entry = self._items.get(generator_id)
            if entry is not None:
                entry.epoch = UNVERIFIED

    def adopt(self, generator: Generator, epoch: int) -> None:
        """Keep `generator` (nobody else may hold it) unless a newer state is already kept."""
        if self.size <= 0:
            return
        with self._lock:
            entry = self._items.get(generator.id)
            if entry is None or entry.generator.version < generator.version:
                self._items[generator.id] = _Entry(generator, epoch)
            self._items.move_to_end(generator.id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def advance(self, generator_id: UUID, events: Sequence[Any]) -> bool:
        """Apply stored events to the kept state in place (cheaper than a copy); False when
        there is no kept state they follow on from, or they fail to apply (then none is kept:
        the next get replays, and reports any error)."""
        with self._lock:
            entry = self._items.get(generator_id)
            if entry is None:
                return False
            new = [e for e in events if e.originator_version > entry.generator.version]
            try:
                if new and new[0].originator_version != entry.generator.version + 1:
                    raise LookupError("a gap between the kept version and the events")
                project_generator(entry.generator, new)
            except Exception:
                del self._items[generator_id]  # possibly half-applied: keep nothing
                return False
            return True
