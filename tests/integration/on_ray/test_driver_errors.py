"""A driver pointed at no cluster, or at a store its tasks cannot reach, says so in one line
with a stable code, in seconds, and never with a traceback."""

import socket
import subprocess
import sys
import time
from pathlib import Path


def ffwd(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ffwd", *args], capture_output=True, text=True, timeout=timeout_s
    )


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when this returns: nothing listens there


def test_no_cluster_at_the_address(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'store.db'}"
    began = time.monotonic()
    done = ffwd("worker", "--ray", f"127.0.0.1:{closed_port()}", "--once", "--store", store)
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(
        "error: cluster_unavailable: no Ray cluster answers at 127.0.0.1:"
    )
    assert "Traceback" not in done.stderr and time.monotonic() - began < 30


def test_not_an_address(tmp_path: Path) -> None:
    done = ffwd("worker", "--ray", "nowhere", "--store", f"sqlite:///{tmp_path / 's.db'}")
    assert done.returncode == 1
    assert (
        done.stderr
        == "error: cluster_unavailable: 'nowhere' is not a Ray address (HOST:PORT, or auto)\n"
    )


def test_a_store_in_this_process_alone(tmp_path: Path) -> None:
    done = ffwd("worker", "--ray", "auto", "--store", "memory://")
    assert done.returncode == 2
    assert done.stderr.startswith("error: invalid_spec: store: memory:// lives in one process")
