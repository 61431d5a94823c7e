"""Two ranks on CPU (gloo), with a plain DDP loop and with Lightning's `ddp` strategy: rank 0
asks the control, every rank stops at the same step with the same reasons, a cancel ends
both, and only rank 0 writes checkpoints (ADR 0026). A rank that stopped alone would hang in
the next all-reduce: the timeout below is what that failure looks like."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.engines_torch.two_ranks import STOP_AFTER_STEP

ROOT = Path(__file__).resolve().parents[3]
SCENARIOS = ["prequeued", "stop", "early", "cancel"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def two_ranks(trainer: str, folder: Path) -> dict[str, list[dict]]:
    """Every scenario's results on both ranks, rank 0 first."""
    args = json.dumps({"trainer": trainer, "scenarios": SCENARIOS, "folder": str(folder)})
    port = str(free_port())
    procs = []
    for rank in (0, 1):
        env = {
            **os.environ,
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
            "WORLD_SIZE": "2",
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": port,
            "OMP_NUM_THREADS": "1",
            "PYTHONWARNINGS": "ignore",
        }
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.integration.engines_torch.two_ranks", args],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
        )
    results: dict[str, list[dict]] = {s: [] for s in SCENARIOS}
    try:
        for proc in procs:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err[-3000:]
            for line in out.splitlines():
                if line.startswith("{"):
                    result = json.loads(line)
                    results[result["scenario"]].append(result)
    finally:
        for proc in procs:
            proc.kill()
    return results


@pytest.fixture(scope="module", params=["loop", "lightning"])
def ended(request, tmp_path_factory) -> dict[str, list[dict]]:
    folder = tmp_path_factory.mktemp(request.param)
    return {"folder": folder, **two_ranks(request.param, folder)}


def same_end(results: list[dict]) -> dict:
    first, second = results
    for key in ("interrupted", "step", "epoch", "reasons", "kept"):
        assert first.get(key) == second.get(key), f"{key}: rank 0 {first}, rank 1 {second}"
    return first


def test_a_pre_queued_stop_costs_exactly_one_step_on_both_ranks(ended) -> None:
    end = same_end(ended["prequeued"])
    assert (end["step"], end["epoch"], end["reasons"]) == (1, 0, ["manually_stopped"])


def test_a_stop_mid_run_lands_at_the_same_step_on_both_ranks(ended) -> None:
    end = same_end(ended["stop"])
    assert end["step"] >= STOP_AFTER_STEP
    assert end["reasons"] == ["manually_stopped"]


def test_a_cancel_ends_both_ranks(ended) -> None:
    end = same_end(ended["cancel"])
    assert end["interrupted"] is True
    assert end["step"] >= STOP_AFTER_STEP


def test_early_stopping_on_rank_0s_validation_loss_ends_both(ended) -> None:
    end = same_end(ended["early"])
    # rank 0's loss is best at epoch 1 and worse twice after it (patience 2); rank 1's
    # improves every epoch and would never stop on its own
    assert (end["epoch"], end["reasons"]) == (3, ["early_stopped"])


def test_only_rank_0_writes_checkpoints_and_both_keep_the_same(ended) -> None:
    first, second = ended["early"]
    assert first["kept"] == second["kept"]
    if "files" in first:  # the plain loop's own checkpoint files
        assert first["kept"].startswith("a1-e1-")  # the epoch rank 0's validation liked best
        assert first["files"] and all(f.startswith("rank0/") for f in first["files"])
        assert not list((ended["folder"] / "early" / "rank1").rglob("*.pt"))
