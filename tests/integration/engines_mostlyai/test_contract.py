"""The contract ffwd relies on and mostlyai-engine does not document: a progress callback that
returns `{"stopExecution": True}` ends training right after that optimizer step, and the engine
keeps a checkpoint. If a new engine version stops honouring it, these tests fail loudly: do
not widen `SUPPORTED` until they pass again (ADR 0015)."""

import json
import math
from importlib import metadata
from pathlib import Path

import pandas as pd
import pytest

from ffwd.adapters.engines.mostlyai.datasets_cache import cache_in
from ffwd.adapters.engines.mostlyai.engine import SUPPORTED, check_version

STOP_AT = 2


def _stage(workspace: Path, frame: pd.DataFrame, kind: str) -> None:
    from mostlyai.engine import analyze, encode, split
    from mostlyai.engine.domain import ModelType

    if kind == "tabular":
        split(
            tgt_data=frame[["age", "city"]], model_type=ModelType.tabular, workspace_dir=workspace
        )
    else:
        split(
            tgt_data=frame[["bio"]],
            tgt_encoding_types={"bio": "LANGUAGE_TEXT"},
            model_type=ModelType.language,
            workspace_dir=workspace,
        )
    analyze(workspace_dir=workspace)
    encode(workspace_dir=workspace)


def test_the_installed_engine_is_a_supported_version() -> None:
    version = check_version()
    assert version == metadata.version("mostlyai-engine"), SUPPORTED


@pytest.mark.parametrize("kind", ["tabular", "language"])
def test_stop_execution_ends_training_after_that_step_and_keeps_a_checkpoint(
    kind: str, customers_csv: Path, tmp_path: Path
) -> None:
    from mostlyai.engine import train

    workspace = tmp_path / "ws"
    _stage(workspace, pd.read_csv(customers_csv), kind)
    steps: list[int] = []
    after_stop: list[dict] = []

    def update_progress(total=None, completed=None, advance=None, message=None, **kwargs):
        if message is None and total == 1:
            return None  # a stage opens or closes
        if steps and steps[-1] >= STOP_AT:
            after_stop.append({"total": total, "completed": completed, "message": message})
            return None
        steps.append(len(steps) + 1)
        return {"stopExecution": True} if len(steps) == STOP_AT else None

    with cache_in(tmp_path / "datasets-cache"):  # keep the rows out of ~/.cache
        train(
            workspace_dir=workspace,
            max_epochs=50,
            batch_size=16,
            gradient_accumulation_steps=1,
            update_progress=update_progress,
        )

    assert steps == [1, 2], "the engine ignored stopExecution and trained on"
    # at most the final message that reports the checkpoint saved after the loop
    assert all(m["message"] and m["message"]["steps"] == STOP_AT for m in after_stop), after_stop
    model_data = workspace / "ModelStore" / "model-data"
    weights = list(model_data.glob("model-weights.pt")) + list(model_data.glob("*.safetensors"))
    assert weights, f"no checkpoint kept in {sorted(p.name for p in model_data.iterdir())}"
    log = pd.read_csv(model_data / "progress-messages.csv")
    assert log["steps"].max() == STOP_AT
    assert log["is_checkpoint"].max() == 1


def test_the_engine_trains_at_the_noise_it_is_given_and_chooses_none_for_the_budget(
    customers_csv: Path, tmp_path: Path
) -> None:
    """What ADR 0022 says of the engine: it does not calibrate its noise to `max_epsilon`. At
    its given noise multiplier a budget too small for one epoch is spent in that epoch, and the
    engine only notices at the epoch's end (its epsilon check), so ffwd chooses the noise."""
    from mostlyai.engine import train
    from mostlyai.engine.domain import DifferentialPrivacyConfig
    from opacus.accountants import RDPAccountant

    workspace = tmp_path / "ws"
    _stage(workspace, pd.read_csv(customers_csv), "tabular")
    dp = DifferentialPrivacyConfig(
        max_epsilon=1.0, noise_multiplier=1.5, value_protection_epsilon=0
    )
    with cache_in(tmp_path / "datasets-cache"):
        train(
            workspace_dir=workspace,
            max_epochs=5,
            batch_size=16,
            gradient_accumulation_steps=1,
            differential_privacy=dp,
        )

    log = pd.read_csv(workspace / "ModelStore" / "model-data" / "progress-messages.csv")
    reported = log.dropna(subset=["dp_eps"])
    steps = int(reported["steps"].iloc[0])
    stats = json.loads((workspace / "ModelStore" / "tgt-stats" / "stats.json").read_text())
    batches = math.ceil(stats["no_of_training_records"] / 16)
    accountant = RDPAccountant()
    accountant.history = [(1.5, 1 / batches, steps)]
    assert reported["dp_eps"].iloc[0] == pytest.approx(accountant.get_epsilon(1e-5), abs=0.006)
    assert reported["dp_eps"].iloc[0] > 1.0  # over the budget: no noise was chosen for it
    assert log["epoch"].max() <= 1  # and the engine stopped itself at that epoch's end
