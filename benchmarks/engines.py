"""Real engines: what our control costs per optimizer step, against the same loop without it.

- torch: a plain PyTorch loop (a small MLP, one optimizer step per batch) with ControlledLoop
  and a PhaseControl, against the same loop with no control at all;
- mostlyai: the engine's per-step progress callback relaying to a PhaseControl, against a
  callback that returns None, on the same tiny table (needs `ffwd[mostlyai]`).

Candidates alternate call by call (benchmarks.timing), and the median of paired ratios is the
figure. A module whose extra is not installed reports that it was skipped.
"""

import statistics
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from benchmarks.results import Record
from benchmarks.timing import interleaved, paired_ratio
from ffwd.application.control import PhaseControl
from ffwd.application.spec import TrainingSpec
from ffwd.application.training import PhaseJob


def run(folder: Path, scale: float) -> list[Record]:
    records = [
        relay_call_cost(scale),
        torch_step_overhead(folder, max(5, int(15 * scale))),
        mostlyai_step_overhead(folder, max(3, int(5 * scale))),
    ]
    return [r for r in records if r is not None]


def relay_call_cost(scale: float) -> Record:
    """What the engine's callback costs per step when nothing changed: the relay plus the
    control's fast path, against a callback that returns None (pure Python, no extra)."""
    from ffwd.adapters.engines.mostlyai.relay import Relay

    calls, rounds = 10_000, max(5, int(20 * scale))

    def per_call_ns(callback) -> float:
        times = []
        for _ in range(rounds):
            start = time.perf_counter_ns()
            for i in range(calls):
                callback(total=10**9, completed=i, message=None)
            times.append((time.perf_counter_ns() - start) / calls)
        return statistics.median(times)

    relay_ns, noop_ns = [], []
    for _ in range(3):
        relay = Relay(PhaseControl(_training(10**6), lambda p: None))
        relay_ns.append(per_call_ns(relay))
        noop_ns.append(per_call_ns(lambda **kwargs: None))
    relay_cost, noop = statistics.median(relay_ns), statistics.median(noop_ns)
    return Record(
        name="mostlyai_relay_cost",
        line=f"mostlyai progress callback per step, nothing changed: relay + control "
        f"{relay_cost:.0f} ns vs no-op callback {noop:.0f} ns",
        measured=relay_cost / 1000,
        reference=noop / 1000,
        unit="us",
        ratio=relay_cost / 1000,
        op="<=",
        target=5.0,
        details={"calls": calls, "rounds": rounds, "noop_ns": noop},
    )


def _training(max_epochs: int) -> TrainingSpec:
    return TrainingSpec(
        max_epochs=max_epochs,
        max_training_time_s=None,
        early_stopping_patience=None,
        batch_size=32,
    )


def torch_step_overhead(folder: Path, rounds: int) -> Record | None:
    try:
        import torch
    except ImportError:
        return None
    from ffwd.adapters.engines.torch import ControlledLoop, TorchCheckpoints

    torch.set_num_threads(1)
    epochs, steps_per_epoch = 4, 50
    x = torch.randn(32 * steps_per_epoch, 16)
    y = x.sum(dim=1, keepdim=True)
    batches = list(zip(x.split(32), y.split(32), strict=True))
    store = TorchCheckpoints(str(folder / "data"), "bench")

    def model_and_optimizer():
        torch.manual_seed(0)
        model = torch.nn.Sequential(
            torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1)
        )
        return model, torch.optim.SGD(model.parameters(), lr=0.01)

    def step(model, optimizer, xb, yb) -> None:
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(xb), yb).backward()
        optimizer.step()

    def controlled() -> float:
        model, optimizer = model_and_optimizer()
        job = PhaseJob(str(uuid.uuid4()), "tabular", "tabular", [], _training(epochs))
        control = PhaseControl(job.training, lambda p: None)
        start = time.perf_counter()
        loop = ControlledLoop(job, control, model, optimizer, store)
        for _ in loop.epochs():
            for xb, yb in batches:
                step(model, optimizer, xb, yb)
                if loop.after_step():
                    break
            else:
                loop.after_epoch()  # no validation: no checkpoint file until the end
        loop.outcome()
        took = time.perf_counter() - start
        store.discard(job.generator_id)
        return took

    def bare() -> float:
        model, optimizer = model_and_optimizer()
        start = time.perf_counter()
        for _ in range(epochs):
            for xb, yb in batches:
                step(model, optimizer, xb, yb)
        torch.save(model.state_dict(), folder / "bare.pt")
        return time.perf_counter() - start

    with_control, without = interleaved(rounds, controlled, bare)
    steps = epochs * steps_per_epoch
    return _step_overhead(
        "torch_step_overhead",
        lambda ours, theirs, us: (
            f"plain PyTorch loop, {steps} steps: with ControlledLoop + "
            f"control {ours * 1000:.1f} ms vs bare {theirs * 1000:.1f} ms ({us:.1f} us/step)"
        ),
        with_control,
        without,
        steps,
    )


def _step_overhead(
    name: str,
    line: Callable[[float, float, float], str],
    with_control: list[float],
    without: list[float],
    steps: int,
) -> Record:
    """A loop's seconds with our control against without, and the cost per step;
    `line(with, without, us_per_step)` says it."""
    ours, theirs = statistics.median(with_control), statistics.median(without)
    per_step_us = (ours - theirs) / steps * 1e6
    return Record(
        name=name,
        line=line(ours, theirs, per_step_us),
        measured=ours,
        reference=theirs,
        unit="s",
        ratio=paired_ratio(with_control, without),
        op="<=",
        target=1.02,
        details={"rounds": len(with_control), "steps": steps, "per_step_us": per_step_us},
    )


def mostlyai_step_overhead(folder: Path, rounds: int) -> Record | None:
    from ffwd.adapters.engines.mostlyai.engine import installed

    if not installed():
        return None
    import pandas as pd
    from mostlyai.engine import analyze, encode, split, train
    from mostlyai.engine.domain import ModelType

    from ffwd.adapters.engines.mostlyai.datasets_cache import cache_in
    from ffwd.adapters.engines.mostlyai.relay import Relay

    rows = 400
    frame = pd.DataFrame(
        {
            "age": [20 + (i * 7) % 50 for i in range(rows)],
            "city": [("Vienna", "Graz", "Linz")[i % 3] for i in range(rows)],
        }
    )
    workspace = folder / "mostlyai"
    with cache_in(folder / "datasets-cache"):
        split(tgt_data=frame, model_type=ModelType.tabular, workspace_dir=workspace)
        analyze(workspace_dir=workspace)
        encode(workspace_dir=workspace)
    epochs = 3
    steps_per_epoch = int(rows * 0.8) // 16

    def once(callback) -> float:
        start = time.perf_counter()
        with cache_in(folder / "datasets-cache"):
            train(
                model="MOSTLY_AI/Small",
                max_epochs=epochs,
                batch_size=16,
                gradient_accumulation_steps=1,
                workspace_dir=workspace,
                update_progress=callback,
            )
        return time.perf_counter() - start

    def relayed() -> float:
        control = PhaseControl(_training(epochs + 1), lambda p: None)
        return once(Relay(control, engine_max_epochs=epochs))

    def plain() -> float:
        return once(lambda **kwargs: None)

    with_control, without = interleaved(rounds, relayed, plain)
    steps = epochs * steps_per_epoch
    return _step_overhead(
        "mostlyai_step_overhead",
        lambda ours, theirs, us: (
            f"mostlyai-engine TabularARGN, ~{steps} steps: with the relay "
            f"+ control {ours:.2f} s vs a no-op callback {theirs:.2f} s ({us:.0f} us/step)"
        ),
        with_control,
        without,
        steps,
    )
