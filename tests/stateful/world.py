"""What a run of the lifecycle machine shares across its programs: the service on one store,
a second store on the same URL (another process's cache), the validated specs, the coverage
reached and how deep to go (`FFWD_STATEFUL_PROFILE`: ci, deep, mutate)."""

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, settings

from ffwd.adapters.container import build_service
from ffwd.adapters.storage.event_store import EventSourcedStore
from ffwd.application.service import GeneratorService

LAYOUTS = [(), ("a",), ("a", "b")]
TABLE = "id,age,bio\n" + "".join(
    f"{i},{20 + i},Writes letter number {i} to a friend who lives far away\n" for i in range(8)
)
ANONYMIZATION_SPEC = {"name": "masked", "kind": "anonymization"}

# examples and steps per program, per store; `mutate` skips shrinking (a killed mutant needs
# a failure, not its smallest example) and stops at the first failure.
PROFILES = {
    "ci": {"memory": (250, 100), "sqlite": (30, 80), "postgres": (12, 60), "threads": 40},
    "deep": {"memory": (1000, 150), "sqlite": (200, 120), "postgres": (60, 100), "threads": 100},
    "mutate": {"memory": (200, 100), "sqlite": (10, 60), "postgres": (10, 60), "threads": 15},
}
PROFILE = os.environ.get("FFWD_STATEFUL_PROFILE", "ci")


def machine_settings(store: str) -> settings:
    examples, steps = PROFILES[PROFILE][store]
    if store == "memory" and PROFILE == "ci":
        # The run on memory must reach every transition a handful of times (coverage.py); in
        # one random run of CI's size the rarest vary too much for that (0 to 20-odd in a few),
        # so it is the same run each time. The other stores' runs stay random.
        return _settings(max_examples=examples, stateful_step_count=steps, derandomize=True)
    return _settings(max_examples=examples, stateful_step_count=steps)


def threads_settings() -> settings:
    return _settings(max_examples=PROFILES[PROFILE]["threads"])


def _settings(**kw: Any) -> settings:
    phases = [Phase.explicit, Phase.generate]
    if PROFILE != "mutate":
        phases += [Phase.reuse, Phase.target, Phase.shrink, Phase.explain]
    return settings(
        deadline=None,
        phases=phases,
        database=None
        if PROFILE == "mutate" or kw.get("derandomize")
        else settings.default.database,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
        **kw,
    )


@dataclass
class World:
    svc: GeneratorService
    reader: EventSourcedStore | None
    specs: dict[tuple[tuple[str, ...], int], dict[str, Any]]
    coverage: Counter = field(default_factory=Counter)

    def close(self) -> None:
        if self.reader is not None:
            self.reader.close()
        self.svc.store.close()


def world(url: str, folder: Path) -> World:
    """A service on `url` and, on a store that processes can share, a second one reading it."""
    svc = build_service(store=url, data=str(folder / "data"))
    reader = None if url.startswith("memory:") else EventSourcedStore(url)
    return World(svc, reader, training_specs(svc, folder))


def training_specs(svc: GeneratorService, folder: Path) -> dict:
    """Specs as the service stores them, one per layout of text phases and parallelism."""
    path = folder / "people.csv"
    path.write_text(TABLE, encoding="utf-8")
    specs = {}
    for layout in LAYOUTS:
        tables = [{"name": t, "path": str(path), "text_columns": ["bio"]} for t in layout]
        tables = tables or [{"name": "t", "path": str(path), "text_columns": []}]
        for parallel in (1, 2):
            raw = {"name": "g", "tables": tables, "training": {"max_parallel_phases": parallel}}
            specs[(layout, parallel)] = svc.check_spec(raw, folder).model_dump(mode="json")
    return specs
