"""Realistic generators for benchmarks: created through the service, tabular phase started,
then `record_progress` with increasing epoch and step, as a training run reports it."""

from pathlib import Path
from uuid import UUID

from ffwd.adapters.container import build_service
from ffwd.application.service import GeneratorService
from ffwd.domain.parts import TABULAR

EVENTS_BEFORE_PROGRESS = 3  # created, generator started, phase started


def sqlite_service(folder: Path, name: str = "store") -> GeneratorService:
    """The embedded default: the service on an SQLite file, as `build_service` makes it."""
    return build_service(f"sqlite:///{folder / name}.db", str(folder / "data"))


def tiny_csv(folder: Path) -> Path:
    path = folder / "people.csv"
    if not path.exists():
        path.write_text("age,city\n31,Vienna\n45,Graz\n27,Linz\n")
    return path


class Progress:
    """Metrics as a training run reports them: epoch and step only ever increase."""

    def __init__(self, step: int = 0) -> None:
        self.step = step

    def __call__(self) -> dict[str, float | int]:
        self.step += 1
        return {
            "epoch": self.step // 50,
            "step": self.step,
            "elapsed_s": self.step * 0.25,
            "val_loss": 1.0 / (1 + self.step),
        }


class Training:
    """One training generator whose tabular phase is running; reports progress like a runner."""

    def __init__(self, service: GeneratorService, folder: Path, name: str = "bench") -> None:
        self.service = service
        self.id: UUID = service.create_generator(
            {"name": name, "tables": [{"name": "people", "path": str(tiny_csv(folder))}]}
        )
        self.attempt = service.start_phase(self.id, TABULAR, "bench-worker")
        self.progress = Progress()

    def report(self) -> None:
        """One `record_progress` command through the service: one durable transaction."""
        self.service.record_progress(self.id, TABULAR, self.attempt, **self.progress())

    def grow_to(self, events: int) -> None:
        """Append progress events until the generator has `events` events, saved in one
        transaction: the same domain commands and events, only committed together for speed."""
        generator = self.service.store.get(self.id)
        while generator.version < events:
            generator.record_progress(TABULAR, self.attempt, **self.progress())
        self.service.store.save(generator)
