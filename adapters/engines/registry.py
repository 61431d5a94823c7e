"""The engines a process knows, by name, each built on first use.

Naming an engine builds nothing, and the engines of installed extras are looked for only
when a name is first asked about (a spec check); the first phase an engine trains, or the
first file it deletes, builds it, and only then are its libraries loaded (numpy, torch).
"""

import threading
from collections.abc import Callable, Iterator, Mapping, MutableMapping

from ffwd.application.training import TrainingEngine

Factory = Callable[[], TrainingEngine]


class Engines(MutableMapping[str, TrainingEngine]):
    def __init__(
        self,
        factories: Mapping[str, Factory],
        discover: Callable[[], Mapping[str, Factory]] | None = None,
    ) -> None:
        self._factories = dict(factories)
        self._discover = discover
        self._built: dict[str, TrainingEngine] = {}
        self._lock = threading.RLock()

    def __getitem__(self, name: str) -> TrainingEngine:
        engine = self._built.get(name)
        if engine is not None:
            return engine
        with self._lock:  # one engine per name, also when two phases start at once
            if name not in self._built:
                self._built[name] = self._known()[name]()
            return self._built[name]

    def __setitem__(self, name: str, engine: TrainingEngine) -> None:
        with self._lock:
            self._known()[name] = lambda: engine
            self._built[name] = engine

    def __delitem__(self, name: str) -> None:
        with self._lock:
            del self._known()[name]
            self._built.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._known()))

    def __len__(self) -> int:
        return len(self._known())

    def _known(self) -> dict[str, Factory]:
        if self._discover is not None:
            with self._lock:
                if self._discover is not None:
                    found, self._discover = self._discover(), None
                    self._factories = {**found, **self._factories}
        return self._factories
