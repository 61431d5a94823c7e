"""Privacy against utility on the sample customers (1,500 rows and their `bio` text, phases
`tabular` and `text:customers`): the same generator, with the same seed, at epsilon 0.5, 1, 3
and 10 (delta 1e-5, the noise chosen for the budget) and without differential privacy. Each
run's reasons, epochs, epsilon spent (never above the budget: the target) and the quality
report's accuracy. Early stopping and the time limit are off, so the budget and the epoch
limit (400 at scale 1, as in issue 16) are what end the phases.
"""

import json
import math
import shutil
import time
from pathlib import Path
from typing import Any

import ffwd.adapters.sample_data
from benchmarks.fixtures import sqlite_service
from benchmarks.results import Record
from ffwd.application.views import GeneratorView

BUDGETS: tuple[float | None, ...] = (None, 10.0, 3.0, 1.0, 0.5)
SEED, DELTA, EPOCHS = 7, 1e-5, 400


def spec(budget: float | None, epochs: int) -> dict[str, Any]:
    dp = None if budget is None else {"max_epsilon": budget, "delta": DELTA}
    return {
        "name": f"privacy-{budget or 'none'}",
        "tables": [{"name": "customers", "path": "customers.csv", "text_columns": ["bio"]}],
        "training": {
            "max_epochs": epochs,
            "early_stopping_patience": None,
            "max_training_time_s": None,
            "differential_privacy": dp,
            "seed": SEED,
        },
    }


def run(folder: Path, scale: float) -> list[Record]:
    epochs = max(2, round(EPOCHS * scale))
    sample = Path(ffwd.adapters.sample_data.__file__).parent
    shutil.copy(sample / "customers.csv", folder / "customers.csv")
    svc = sqlite_service(folder)
    rows, records = [], []
    for budget in BUDGETS:
        began = time.perf_counter()
        view = svc.run(svc.create_generator(spec(budget, epochs), base_dir=folder))
        row = _row(view, budget, time.perf_counter() - began)
        rows.append(row)
        records.append(_record(row, epochs))
    svc.store.close()
    print(table(rows, epochs))
    return records


def _row(view: GeneratorView, budget: float | None, seconds: float) -> dict[str, Any]:
    if view.state != "succeeded":
        raise RuntimeError(f"the run at epsilon {budget} ended {view.state}: {view.error}")
    report = json.loads(Path(view.outputs["report"]).read_text())
    return {
        "budget": budget,
        "seconds": round(seconds, 1),
        "accuracy": report["accuracy"],
        "parts": report["parts"],
        "phases": {
            p.id: {
                "reasons": p.reasons,
                "epochs": p.epoch,
                "epsilon": p.epsilon,
                "noise_multiplier": p.privacy.noise_multiplier if p.privacy else None,
                "kept_epoch": p.checkpoint.epoch if p.checkpoint else None,
            }
            for p in view.phases
        },
    }


def _record(row: dict[str, Any], epochs: int) -> Record:
    budget, phases = row["budget"], row["phases"]
    spent = max((p["epsilon"] or 0.0) for p in phases.values())
    summary = "; ".join(
        f"{phase} {'+'.join(p['reasons'])} at epoch {p['epochs']}" for phase, p in phases.items()
    )
    if budget is None:
        return Record(
            name="privacy_none",
            line=f"no DP, {epochs} epochs: accuracy {row['accuracy']:.3f} ({summary})",
            measured=row["accuracy"],
            reference=row["accuracy"],
            unit="accuracy",
            ratio=1.0,
            op=">=",
            target=1.0,
            details=row,
        )
    return Record(
        name=f"privacy_epsilon_{budget:g}",
        line=f"epsilon {budget:g}, {epochs} epochs: spent {spent:.3f}, accuracy "
        f"{row['accuracy']:.3f} ({summary})",
        measured=spent,
        reference=budget,
        unit="epsilon",
        ratio=spent / budget,
        op="<=",
        target=1.0,
        details=row,
    )


def table(rows: list[dict[str, Any]], epochs: int) -> str:
    """The runs as a Markdown table, as the README shows them."""
    lines = [
        "| ε (δ 1e-5) | phase | noise multiplier | reasons | epochs (kept) | ε spent | accuracy |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        budget = "no DP" if row["budget"] is None else f"{row['budget']:g}"
        for i, (phase, p) in enumerate(row["phases"].items()):
            noise = "-" if p["noise_multiplier"] is None else f"{p['noise_multiplier']:.2f}"
            # rounded down, so that a spend within the budget never reads as above it
            spent = "-" if p["epsilon"] is None else f"{math.floor(p['epsilon'] * 1e4) / 1e4:.4f}"
            accuracy = f"{row['accuracy']:.3f}" if i == 0 else ""
            lines.append(
                f"| {budget if i == 0 else ''} | {phase} | {noise} | {', '.join(p['reasons'])} "
                f"| {p['epochs']} ({p['kept_epoch']}) | {spent} | {accuracy} |"
            )
    return f"Privacy and utility, {epochs} epochs, seed {SEED}:\n" + "\n".join(lines)
