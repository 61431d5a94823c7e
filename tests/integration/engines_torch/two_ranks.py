"""One rank of a two-process phase on CPU (gloo), run by test_distributed.py:

    RANK=r LOCAL_RANK=r WORLD_SIZE=2 MASTER_ADDR=127.0.0.1 MASTER_PORT=p \
        python -m tests.integration.engines_torch.two_ranks '{"trainer": ..., "scenarios": ...}'

`trainer` is "loop" (ControlledLoop around DistributedDataParallel) or "lightning" (the
ControlCallback under Lightning's `ddp` strategy). Rank 0 has the real PhaseControl; rank 1
has none. The scenarios run one after the other in the same two processes (starting torch
twice per scenario would cost more than the scenarios): "prequeued" (a stop stored before the
phase started), "stop" (a stop stored by another thread while training), "cancel" (the
generator cancelled while training), "early" (rank 0's validation loss worsens while rank 1's
improves). Each rank prints one JSON
line per scenario: where it stopped and why, or that it was interrupted, and what it kept.
"""

import json
import os
import sys
import threading
import time
import uuid
from pathlib import Path

import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from ffwd.adapters.engines.torch import ControlledLoop, TorchCheckpoints
from ffwd.application.control import PhaseControl
from ffwd.application.training import PhaseInterrupted, PhaseOutcome
from tests.integration.engines_torch.tasks import ROWS, data, job, training

PER_RANK_BATCH = 8  # 64 rows over 2 ranks: 4 steps per epoch on each
STOP_AFTER_STEP = 20  # the other thread acts once rank 0 has passed this step


def control_for(scenario: str) -> PhaseControl:
    spec = training(max_epochs=10_000)
    if scenario == "early":
        spec = training(max_epochs=10_000, early_stopping_patience=2)
    control = PhaseControl(spec, lambda _: None, stop_requested=scenario == "prequeued")
    if scenario in ("stop", "cancel"):
        act = control.request_stop if scenario == "stop" else control.interrupt

        def later() -> None:  # the page's stop or cancel, at a moment rank 1 does not know
            while control.step < STOP_AFTER_STEP:
                time.sleep(0.001)
            act()

        threading.Thread(target=later, daemon=True).start()
    return control


def validation(rank: int, epoch: int) -> float:
    """Rank 0's loss worsens from the second epoch on; rank 1's keeps improving."""
    return float(epoch) if rank == 0 else 1.0 / epoch


def with_loop(rank: int, scenario: str, folder: Path, gid: str) -> dict:
    control = control_for(scenario) if rank == 0 else None
    torch.manual_seed(0)
    x, y = data()
    dataset = TensorDataset(x[:ROWS], y[:ROWS])
    sampler = DistributedSampler(dataset, shuffle=True, seed=0)
    loader = DataLoader(dataset, batch_size=PER_RANK_BATCH, sampler=sampler)
    model = torch.nn.parallel.DistributedDataParallel(torch.nn.Linear(3, 1))
    optimizer = torch.optim.Adam(model.parameters(), lr=0.05)
    store = TorchCheckpoints(str(folder / f"rank{rank}"), "torch")
    loop = ControlledLoop(job(training(), gid), control, model, optimizer, store)
    try:
        for epoch in loop.epochs():
            sampler.set_epoch(epoch)
            for xb, yb in loader:
                optimizer.zero_grad()
                loss = torch.nn.functional.mse_loss(model(xb).squeeze(-1), yb)
                loss.backward()  # DDP's all-reduce: a rank that stopped alone would hang here
                optimizer.step()
                if loop.after_step(train_loss=loss.item()):
                    break
            else:
                loop.after_epoch(val_loss=validation(rank, loop.epoch + 1))
    except PhaseInterrupted:
        return {"interrupted": True, "step": loop.step, "epoch": loop.epoch}
    files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.pt"))
    return {**ended(loop.outcome()), "files": files}


def ended(outcome: PhaseOutcome) -> dict:
    return {
        "interrupted": False,
        "step": outcome.step,
        "epoch": outcome.epoch,
        "reasons": list(outcome.reasons),
        "kept": outcome.checkpoint["id"],
    }


def with_lightning(rank: int, scenario: str, folder: Path) -> dict:
    import lightning.pytorch as pl
    from lightning.pytorch.callbacks import ModelCheckpoint

    from ffwd.adapters.engines.torch.lightning import ControlCallback
    from tests.integration.engines_torch.test_lightning import Regression

    class Scripted(Regression):
        def validation_step(self, batch, batch_idx):
            self.log("val_loss", validation(rank, self.current_epoch + 1))

    control = control_for(scenario) if rank == 0 else None
    torch.manual_seed(0)
    x, y = data()
    train = DataLoader(TensorDataset(x[:ROWS], y[:ROWS]), batch_size=PER_RANK_BATCH)
    valid = DataLoader(TensorDataset(x[ROWS:], y[ROWS:]), batch_size=32)
    callback = ControlCallback(control)
    best = ModelCheckpoint(dirpath=folder, monitor="val_loss", mode="min", save_top_k=1)
    trainer = pl.Trainer(
        strategy="ddp",
        accelerator="cpu",
        devices=2,
        max_epochs=-1,
        callbacks=[callback, best],
        logger=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        enable_checkpointing=True,
        num_sanity_val_steps=0,
        default_root_dir=folder,
    )
    try:
        trainer.fit(Scripted(), train, valid)
    except PhaseInterrupted:
        return {"interrupted": True, "step": callback.step, "epoch": callback.epoch}
    return ended(callback.outcome())


def main() -> None:
    args = json.loads(sys.argv[1])
    rank = int(os.environ["RANK"])
    if args["trainer"] == "loop":
        dist.init_process_group("gloo")
    for scenario in args["scenarios"]:
        folder = Path(args["folder"]) / scenario
        if args["trainer"] == "lightning":
            result = with_lightning(rank, scenario, folder)
        else:
            result = with_loop(rank, scenario, folder, str(uuid.uuid4()))
        print(json.dumps({"rank": rank, "scenario": scenario, **result}), flush=True)
    if dist.is_initialized():
        dist.destroy_process_group()


if __name__ == "__main__":
    main()
