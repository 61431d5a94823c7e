"""Lightning under our control: the callback asks at every batch end and validation, sets
`trainer.should_stop`, and the checkpoint is Lightning's own, with the reasons in it."""

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from torch.utils.data import DataLoader, TensorDataset

from ffwd.adapters.engines.torch.lightning import ControlCallback, kept_state
from ffwd.application.training import PhaseInterrupted
from tests.integration.engines_mostlyai.recording import RecordingControl
from tests.integration.engines_torch.tasks import BATCH, ROWS, data, training


class Regression(pl.LightningModule):
    def __init__(self) -> None:
        super().__init__()
        self.layer = torch.nn.Linear(3, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = torch.nn.functional.mse_loss(self.layer(x).squeeze(-1), y)
        self.log("train_loss", loss)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", torch.nn.functional.mse_loss(self.layer(x).squeeze(-1), y))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=0.05)


def fit(control, folder: Path, resume: str | None = None) -> ControlCallback:
    torch.manual_seed(0)
    x, y = data()
    train = DataLoader(TensorDataset(x[:ROWS], y[:ROWS]), batch_size=BATCH, shuffle=True)
    valid = DataLoader(TensorDataset(x[ROWS:], y[ROWS:]), batch_size=32)
    callback = ControlCallback(control)
    best = ModelCheckpoint(dirpath=folder, monitor="val_loss", mode="min", save_top_k=1)
    trainer = pl.Trainer(
        max_epochs=-1,
        callbacks=[callback, best],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
        default_root_dir=folder,
        accelerator="cpu",
    )
    trainer.fit(Regression(), train, valid, ckpt_path=resume)
    return callback


def test_a_stop_lands_at_the_next_batch_and_the_checkpoint_records_why(tmp_path: Path) -> None:
    control = RecordingControl(training(), stop_after_step=6)
    callback = fit(control, tmp_path)
    outcome = callback.outcome()
    assert (outcome.step, outcome.epoch, outcome.reasons) == (7, 1, ("manually_stopped",))
    assert control.steps[-1] == 7  # Lightning trained no further batch
    saved = kept_state(outcome.checkpoint["path"])
    assert saved["reasons"] == ["manually_stopped"]
    model = Regression.load_from_checkpoint(outcome.checkpoint["path"])
    assert torch.isfinite(model.layer(data()[0][ROWS:])).all()


def test_a_pre_queued_stop_costs_exactly_one_step(tmp_path: Path) -> None:
    control = RecordingControl(training(), stop_requested=True)
    outcome = fit(control, tmp_path).outcome()
    assert control.steps == [1]
    assert (outcome.step, outcome.epoch, outcome.reasons) == (1, 0, ("manually_stopped",))
    assert Path(outcome.checkpoint["path"]).is_file()
    assert outcome.checkpoint["step"] == 1


def test_early_stopping_on_lightnings_validation_loss(tmp_path: Path) -> None:
    spec = training(early_stopping_patience=1, early_stopping_min_delta=100.0)
    control = RecordingControl(spec)
    outcome = fit(control, tmp_path).outcome()
    assert (outcome.epoch, outcome.step, outcome.reasons) == (2, 8, ("early_stopped",))
    told = [m for _, _, m in control.calls if m is not None]
    assert len(told) == 2 and all(set(m) == {"train_loss", "val_loss"} for m in told)
    assert kept_state(outcome.checkpoint["path"])["epoch"] in (1, 2)


def test_cancel_raises_out_of_trainer_fit(tmp_path: Path) -> None:
    control = RecordingControl(training(), cancel_at_step=3)
    with pytest.raises(PhaseInterrupted):
        fit(control, tmp_path)
    assert control.steps == [1, 2, 3]


def test_continue_training_from_lightnings_checkpoint(tmp_path: Path) -> None:
    first = fit(RecordingControl(training(max_epochs=1)), tmp_path / "parent").outcome()
    assert (first.epoch, first.step, first.reasons) == (1, 4, ("max_epochs_reached",))
    control = RecordingControl(training(max_epochs=2))
    second = fit(control, tmp_path / "child", resume=first.checkpoint["path"]).outcome()
    assert control.steps[0] == 5
    assert (second.epoch, second.step, second.reasons) == (2, 8, ("max_epochs_reached",))
