"""The shared stop decision of a distributed phase (ADR 0026): its cost per step on two ranks
(gloo, CPU) beside the single-process control and beside the cheapest agreement two ranks can
have (an all-reduce of one number), and what it adds to a DDP step of a small MLP."""

import json
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.distributed as dist

from benchmarks.results import Record
from ffwd.adapters.engines.torch.ranks import Ranks
from ffwd.application.control import PhaseControl
from ffwd.application.spec import TrainingSpec

STEPS = 200  # per round and per candidate


def run(folder: Path, scale: float) -> list[Record]:
    rounds = max(5, int(15 * scale))
    out = folder / "rank0.json"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ranks = [
        subprocess.Popen(
            [sys.executable, "-m", "benchmarks.distributed", *map(str, (rank, port, rounds, out))],
            cwd=Path(__file__).parents[1],
            env={**os.environ, "OMP_NUM_THREADS": "1"},
        )
        for rank in (0, 1)
    ]
    for rank in ranks:
        if rank.wait(timeout=600) != 0:
            raise RuntimeError("a rank of the distributed benchmark failed")
    m = json.loads(out.read_text())
    decide, single, floor = m["decide_us"], m["single_us"], m["all_reduce_us"]
    bare, with_decision = m["step_us"], m["step_with_decision_us"]
    return [
        Record(
            name="distributed_decision",
            line=f"shared stop decision on 2 ranks (gloo, CPU): {decide:.0f} us per step beside "
            f"{single:.2f} us for the single-process control and {floor:.0f} us for an "
            f"all-reduce of one number; a DDP step of a small MLP: {bare:.0f} us without it, "
            f"{with_decision:.0f} us with it",
            measured=decide,
            reference=floor,
            unit="us",
            ratio=statistics.median(m["decide_ratios"]),
            op="<=",
            target=1.2,
            details={**m, "rounds": rounds, "steps_per_round": STEPS},
        )
    ]


def _rank(rank: int, port: int, rounds: int, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    spec = TrainingSpec(max_epochs=10**9, max_training_time_s=None)
    control = PhaseControl(spec, lambda _: None) if rank == 0 else None
    ranks = Ranks()
    torch.manual_seed(rank)
    model = torch.nn.parallel.DistributedDataParallel(
        torch.nn.Sequential(torch.nn.Linear(32, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1))
    )
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(128, 32), torch.randn(128, 1)

    def step() -> None:
        optimizer.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        optimizer.step()

    def ask(i: int):
        return ranks.decide(lambda: control.boundary(0, i))

    one = torch.zeros(1, dtype=torch.int64)

    def timed(body) -> float:
        dist.barrier()
        start = time.perf_counter()
        for i in range(STEPS):
            body(i)
        return (time.perf_counter() - start) / STEPS * 1e6

    decide, floor, single, bare, shared, ratios = [], [], [], [], [], []
    for _ in range(rounds):  # the candidates alternate round by round
        decide.append(timed(ask))
        floor.append(timed(lambda i: dist.all_reduce(one)))
        ratios.append(decide[-1] / floor[-1])
        if rank == 0:
            single.append(timed(lambda i: control.boundary(0, i)))
        else:
            single.append(timed(lambda i: None))
        bare.append(timed(lambda i: step()))
        shared.append(timed(lambda i: (step(), ask(i))))
    dist.barrier()
    if rank == 0:
        figures = {
            "decide_us": statistics.median(decide),
            "single_us": statistics.median(single),
            "step_us": statistics.median(bare),
            "step_with_decision_us": statistics.median(shared),
            "all_reduce_us": statistics.median(floor),
            "decide_ratios": ratios,
        }
        Path(out).write_text(json.dumps(figures))
    dist.destroy_process_group()


if __name__ == "__main__":
    _rank(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
