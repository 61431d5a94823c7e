"""What the reference engine does with numpy: train one phase, synthesize every table.

Kept apart from `engine`, which every process registers: numpy loads when a phase trains or
a generator synthesizes, not when a command names the engine or deletes its files.
"""

from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ffwd.adapters.checkpoints import FileCheckpointStore, safe_component
from ffwd.adapters.datasets.csv_tables import write_csv
from ffwd.adapters.engines.reference.blas import single_thread_blas
from ffwd.adapters.engines.reference.builders import (
    load_tables,
    resumed_groups,
    table_info,
    tabular_groups,
    text_groups,
)
from ffwd.adapters.engines.reference.loop import Loop, Start
from ffwd.adapters.engines.reference.phases import Phase
from ffwd.adapters.engines.reference.tabular import TableModel
from ffwd.adapters.engines.reference.text import CharModel
from ffwd.adapters.privacy.rdp import RdpAccountant
from ffwd.application.spec import GeneratorSpec
from ffwd.application.training import Control, PhaseJob, PhaseOutcome

TABULAR = "tabular"

# Once per process: numpy's OpenBLAS on one thread (see `blas`).
one_blas_thread = cache(single_thread_blas)


def train(
    checkpoints: FileCheckpointStore, job: PhaseJob, control: Control, accountant: RdpAccountant
) -> PhaseOutcome:
    """Train until the control says stop; PhaseInterrupted passes through."""
    one_blas_thread()
    if job.kind not in (TABULAR, "text"):
        raise ValueError(f"the reference engine has no {job.kind!r} phase")
    training, private = job.training, job.training.differential_privacy is not None
    data = load_tables(job.tables)
    start, arrays = Start(), None
    if job.resume_from:
        parent = job.resume_from
        arrays, meta = checkpoints.load(parent["generator"], job.phase_id, parent["id"])
        if private and "privacy" not in meta:
            raise ValueError(
                "a checkpoint trained without differential privacy cannot "
                "continue with it: its privacy is already unbounded"
            )
        groups = resumed_groups(meta, arrays, data, training.validation_split, job.seed)
        saved = meta["checkpoint"]
        history = meta.get("privacy", {}).get("segments", [])
        # Counters go on from where the phase was, which a takeover puts past the checkpoint.
        epoch = max(saved["epoch"], parent.get("epoch", 0))
        step = max(saved["step"], parent.get("step", 0))
        start = Start(epoch, step, history, resumed=True)
    elif job.kind == TABULAR:
        groups = tabular_groups(job.tables, data, training.validation_split, job.seed, private)
    else:
        groups = text_groups(job.tables[0], data, training.validation_split, job.seed, private)
    phase = Phase(groups, training.batch_size, training.learning_rate)
    if arrays is not None:
        phase.optimizer.restore(arrays)
    extra = {"tables": table_info(job.tables, data)}
    return Loop(phase, job, checkpoints, start, extra, accountant).run(control)


def synthesize(
    store: FileCheckpointStore,
    generator_id: str,
    spec: GeneratorSpec,
    checkpoints: Mapping[str, dict[str, Any]],
    out_dir: str,
) -> dict[str, str]:
    """One CSV per table: tabular columns sampled in order, text columns filled in."""
    one_blas_thread()
    loaded = {
        phase: store.load(generator_id, phase, checkpoint["id"])
        for phase, checkpoint in checkpoints.items()
    }
    if TABULAR not in loaded:
        raise ValueError("synthesis needs the tabular phase's checkpoint")
    _, tabular_meta = loaded[TABULAR]
    Path(out_dir).mkdir(parents=True, exist_ok=True)
    paths = {}
    for i, table in enumerate(spec.tables):
        info = tabular_meta["tables"][table.name]
        n = spec.synthesis.rows.get(table.name, info["rows"])
        rng = np.random.default_rng([tabular_meta["seed"], i])
        cells = _sample_table(table.name, n, rng, loaded)
        missing = [c for c in info["columns"] if c not in cells]
        if missing:
            raise ValueError(f"no model for columns {missing} of table {table.name!r}")
        path = Path(out_dir) / f"{safe_component(table.name, 'table name')}.csv"
        write_csv(path, info["columns"], cells)
        paths[table.name] = str(path)
    return paths


def _sample_table(table: str, n: int, rng: Any, loaded: Any) -> dict[str, list[str]]:
    cells: dict[str, list[str]] = {}
    for phase in (TABULAR, f"text:{table}"):
        if phase not in loaded:
            continue
        arrays, meta = loaded[phase]
        for group in meta["groups"]:
            if group["table"] != table:
                continue
            for m in group["models"]:
                if "encoders" in m:
                    cells |= TableModel.from_meta(m, arrays).sample(n, rng)
                else:
                    cells[m["column"]] = CharModel.from_meta(m, arrays).sample(n, rng)
    return cells
