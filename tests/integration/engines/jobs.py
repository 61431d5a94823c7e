"""Phase jobs for the reference engine tests."""

from ffwd.application.spec import TableSpec, TrainingSpec
from ffwd.application.training import PhaseJob


def tabular_job(table: TableSpec, generator: str = "gen-1", **training) -> PhaseJob:
    spec = TrainingSpec(**({"batch_size": 64, "learning_rate": 0.05} | training))
    return PhaseJob(generator, "tabular", "tabular", [table], spec, seed=7)


def text_job(table: TableSpec, generator: str = "gen-1", **training) -> PhaseJob:
    spec = TrainingSpec(**({"batch_size": 64, "learning_rate": 0.05} | training))
    return PhaseJob(generator, f"text:{table.name}", "text", [table], spec, seed=7)
