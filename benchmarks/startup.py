"""How soon the command line answers: `ffwd --help` and `ffwd list --json` on an empty store,
each against `python -c "import typer, rich.console"`, the floor of any typer+rich program.

The three run in turn, process by process, and medians are compared. Sources are compiled
first, as an installed wheel's are (this machine may set PYTHONDONTWRITEBYTECODE, which would
make every run of an editable install compile ffwd's modules again).
"""

import compileall
import subprocess
import sys
import time
from pathlib import Path

from benchmarks.results import Record
from benchmarks.timing import median
from ffwd.adapters.storage.event_store import EventSourcedStore

ROOT = Path(__file__).parents[1]
FLOOR = [sys.executable, "-c", "import typer, rich.console"]


def _ffwd(*args: str) -> list[str]:
    return [sys.executable, "-m", "ffwd", *args]


def _seconds(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, cwd=ROOT)
    return time.perf_counter() - start


def run(folder: Path, scale: float) -> list[Record]:
    for layer in ("ffwd", "domain", "application", "adapters"):
        compileall.compile_dir(ROOT / layer, quiet=1)
    store = f"sqlite:///{folder / 'empty.db'}"
    EventSourcedStore(store).close()  # an empty store, as `ffwd run` leaves one
    candidates = {
        "floor": FLOOR,
        "help": _ffwd("--help"),
        "list": _ffwd("list", "--json", "--store", store, "--data", str(folder / "data")),
    }
    for command in candidates.values():  # warm the disk cache once
        _seconds(command)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    order = list(candidates.items())
    for _ in range(max(5, int(21 * scale))):
        for name, command in order:
            times[name].append(_seconds(command))
        order.reverse()
    floor = median(times["floor"])
    records = []
    for name, what in (("help", "ffwd --help"), ("list", "ffwd list --json (empty store)")):
        took = median(times[name])
        records.append(
            Record(
                name=f"startup_{name}",
                line=f"{what}: {took * 1000:.0f} ms vs {floor * 1000:.0f} ms for "
                f"`python -c 'import typer, rich.console'`",
                measured=took * 1000,
                reference=floor * 1000,
                unit="ms",
                ratio=took / floor,
                op="<=",
                target=2.0,
                details={"runs": len(times[name])},
            )
        )
    return records
