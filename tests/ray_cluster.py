"""A throwaway Ray cluster for tests: `ray start --head --block` in a temp dir of its own,
with a token of its own (nothing read from or written to ~/.ray), stopped by SIGTERM to that
one process, which ends every process of the cluster."""

import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STARTED = re.compile(r"ray start --address='([^']+)'")


class RayCluster:
    def __init__(self, cpus: int = 2) -> None:
        self.cpus = cpus
        self.env = {
            "RAY_AUTH_MODE": "token",
            "RAY_AUTH_TOKEN": secrets.token_hex(16),
            "RAY_USAGE_STATS_ENABLED": "0",
        }
        self.address = ""
        self._dir = Path(tempfile.mkdtemp(prefix="ffwd-ray-"))  # short: Ray's sockets live here
        self._proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 120) -> "RayCluster":
        ray = Path(sys.executable).with_name("ray")
        log = (self._dir / "head.log").open("w")
        self._proc = subprocess.Popen(
            [
                str(ray), "start", "--head", "--block", f"--num-cpus={self.cpus}", "--num-gpus=0",
                "--include-dashboard=false", "--disable-usage-stats", "--port=0",
                f"--temp-dir={self._dir / 'ray'}", "--object-store-memory=200000000",
            ],
            env={**os.environ, **self.env},
            # As from a background shell or nohup: SIGINT ignored, which Ray's workers inherit
            # and Ray's cancel (a SIGINT) must get through all the same.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        log.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            found = STARTED.search((self._dir / "head.log").read_text(errors="replace"))
            if found:
                self.address = found.group(1)
                return self
            if self._proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the Ray cluster did not start:\n{self.log()}")

    def log(self) -> str:
        return (self._dir / "head.log").read_text(errors="replace")[-4000:]

    def worker_log(self, pid: int) -> str:
        """The end of what the Ray worker process `pid` wrote (Python's output and errors)."""
        logs = sorted((self._dir / "ray").glob(f"session_*/logs/*{pid}*"))
        return "".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)

    @contextmanager
    def holding(self, cpus: int, timeout_s: float = 120) -> Iterator[None]:
        """The cluster with `cpus` of its CPUs held by an actor of another driver (a job of
        someone else), until the block ends: whatever the machine's speed, a part that needs
        them waits meanwhile."""
        log = self._dir / f"holder-{secrets.token_hex(4)}.log"
        with log.open("w") as errors:
            proc = subprocess.Popen(
                [sys.executable, "-c", HOLD, self.address, str(cpus)],
                env={**os.environ, **self.env},
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
            )
        try:
            if _read_line(proc, timeout_s) != "held":
                raise RuntimeError(f"the cluster's CPUs were not held:\n{log.read_text()[-2000:]}")
            yield
        finally:
            if proc.stdin:
                proc.stdin.close()  # the holder's driver ends: Ray frees its actor's CPUs
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        shutil.rmtree(self._dir, ignore_errors=True)


# A driver of its own that holds CPUs with an actor until its stdin closes.
HOLD = """
import sys
import ray

ray.init(address=sys.argv[1], logging_level="ERROR", log_to_driver=False)


@ray.remote
class Hold:
    def ready(self):
        return True


holder = Hold.options(num_cpus=int(sys.argv[2])).remote()
ray.get(holder.ready.remote())
print("held", flush=True)
sys.stdin.read()
"""


def _read_line(proc: subprocess.Popen, timeout_s: float) -> str:
    """The first line `proc` writes, or "" when it writes none within `timeout_s`."""
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(timeout_s)
    return lines[0].strip() if lines else ""
