"""The quick commands load only what they use: never the web server, the engines or the
numeric libraries (issue: a CLI that starts at once)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ffwd.adapters.container import build_service

HEAVY = ("fastapi", "uvicorn", "starlette", "numpy", "torch", "pandas", "scipy", "dp_accounting")
HEAVY += ("ray",)

# Runs `ffwd ARGS...` in a fresh interpreter, then prints the modules it loaded, even when
# the command exits (typer and `main` end with SystemExit).
PROBE = """
import json, sys
from ffwd.adapters.cli import main
sys.argv = ["ffwd", *sys.argv[1:]]
try:
    main()
except SystemExit:
    pass
finally:
    print("\\nMODULES " + json.dumps(sorted(sys.modules)))
"""


@pytest.fixture
def store(tmp_path: Path, sample_spec: dict) -> tuple[dict, str]:
    url = f"sqlite:///{tmp_path}/store.db"
    svc = build_service(url, str(tmp_path / "data"))
    # The first is private, and its tabular phase has chosen its noise: its view forecasts
    # the budget from what the history recorded, with no accountant.
    private = {**sample_spec, "training": {"differential_privacy": {"max_epsilon": 1.0}}}
    gids = [str(svc.create_generator(spec)) for spec in (private, sample_spec)]
    attempt = svc.start_phase(gids[0], "tabular", "test")
    plan = {"calibrated": True, "sampling_rate": 0.1, "steps_per_epoch": 10, "last_step": 40}
    svc.record_privacy(gids[0], "tabular", attempt, noise_multiplier=3.0, **plan)
    svc.store.close()
    env = {**os.environ, "FFWD_STORE": url, "FFWD_DATA": str(tmp_path / "data")}
    return env, gids


def loaded(env: dict, *args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args], env=env, capture_output=True, text=True, timeout=60
    )
    last = done.stdout.rsplit("MODULES ", 1)
    assert len(last) == 2, done.stdout + done.stderr
    assert "Traceback" not in done.stderr, done.stderr
    return {name.split(".")[0] for name in json.loads(last[1])}


@pytest.mark.parametrize(
    "command",
    [
        ["--help"],
        ["worker", "--help"],
        ["list"],
        ["list", "--json"],
        ["show", "{0}"],
        ["show", "{0}", "--json"],
        ["history", "{0}"],
        ["history", "{0}", "--at", "1", "--json"],
        ["stop", "{0}", "tabular"],  # a pre-queued stop
        ["cancel", "{1}"],  # nothing runs: its files are deleted here and now
    ],
    ids=" ".join,
)
def test_a_quick_command_loads_nothing_heavy(store, command) -> None:
    env, gids = store
    modules = loaded(env, *(part.format(*gids) for part in command))
    assert "ffwd" in modules
    assert not modules & set(HEAVY), sorted(modules & set(HEAVY))


@pytest.mark.parametrize("command", [["list"], ["list", "--json"]], ids=" ".join)
def test_a_list_of_a_local_store_loads_neither_pydantic_nor_the_store_library(
    store, command
) -> None:
    modules = loaded(store[0], *command)
    assert not modules & {"pydantic", "eventsourcing", "dependency_injector"}
