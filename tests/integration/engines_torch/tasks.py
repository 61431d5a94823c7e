"""A small regression task trained by a plain PyTorch loop under ControlledLoop: the runner
the tests drive (with or without Opacus)."""

import uuid

import torch
from opacus import PrivacyEngine
from torch.utils.data import DataLoader, TensorDataset

from ffwd.adapters.engines.torch import (
    ControlledLoop,
    OpacusBudget,
    TorchCheckpoints,
    calibrated_noise,
)
from ffwd.application.spec import TrainingSpec
from ffwd.application.training import Control, PhaseJob, PhaseOutcome

ROWS, BATCH = 64, 16  # 4 steps per epoch
STEPS_PER_EPOCH = ROWS // BATCH


def data(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(ROWS + 32, 3, generator=generator)
    y = x @ torch.tensor([1.5, -2.0, 0.5]) + 0.1 * torch.randn(ROWS + 32, generator=generator)
    return x, y


def training(**values) -> TrainingSpec:
    base = {
        "max_epochs": 20,
        "batch_size": BATCH,
        "early_stopping_patience": None,
        "max_training_time_s": None,
    }
    return TrainingSpec(**(base | values))


def job(spec: TrainingSpec, generator_id: str | None = None, resume=None) -> PhaseJob:
    return PhaseJob(
        generator_id or str(uuid.uuid4()), "tabular", "tabular", [], spec, resume_from=resume
    )


def train(job: PhaseJob, control: Control, store: TorchCheckpoints) -> PhaseOutcome:
    """The runner: any plain loop, with three lines for the control."""
    torch.manual_seed(job.seed)
    x, y = data()
    model = torch.nn.Linear(3, 1)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    loader = DataLoader(TensorDataset(x[:ROWS], y[:ROWS]), batch_size=BATCH, shuffle=True)
    budget = None
    dp = job.training.differential_privacy
    if dp is not None:
        parent = job.resume_from
        resumed = store.load(parent["generator"], job.phase_id, parent["id"]) if parent else None
        engine = PrivacyEngine(accountant="rdp")
        model, optimizer, loader = engine.make_private(
            module=model,
            optimizer=optimizer,
            data_loader=loader,
            noise_multiplier=calibrated_noise(job, loader, resumed),
            max_grad_norm=dp.max_grad_norm,
        )
        budget = OpacusBudget.of(engine, optimizer, loader, dp.delta)
    loop = ControlledLoop(job, control, model, optimizer, store, privacy=budget)
    for _ in loop.epochs():
        for xb, yb in loader:
            optimizer.zero_grad()
            loss = torch.nn.functional.mse_loss(model(xb).squeeze(-1), yb)
            loss.backward()
            optimizer.step()
            if loop.after_step(train_loss=loss.item()):
                break
        else:
            with torch.no_grad():
                val = torch.nn.functional.mse_loss(model(x[ROWS:]).squeeze(-1), y[ROWS:])
            loop.after_epoch(val_loss=val.item())
    return loop.outcome()


def predict(store: TorchCheckpoints, generator_id: str, checkpoint_id: str) -> torch.Tensor:
    """Inference from a kept checkpoint."""
    model = torch.nn.Linear(3, 1)
    model.load_state_dict(store.load(generator_id, "tabular", checkpoint_id)["model"])
    with torch.no_grad():
        return model(data()[0][ROWS:]).squeeze(-1)
