"""`python -m benchmarks`: run every benchmark module, print one line each, write results.json."""

import argparse
import os
import platform
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

from benchmarks import (
    control,
    distributed,
    engines,
    http,
    many_workers,
    on_ray,
    privacy,
    scale,
    startup,
    storage,
    workers,
)
from benchmarks.results import Record, write_results

# Each module has `run(folder, scale) -> list[Record]`; add new benchmark modules here. A
# module with `DEFAULT = False` runs only when named (`--only NAME`).
MODULES = {
    "startup": startup,
    "storage": storage,
    "control": control,
    "http": http,
    "engines": engines,
    "workers": workers,
    "scale": scale,
    "many_workers": many_workers,
    "privacy": privacy,
    "distributed": distributed,
    "on_ray": on_ray,
}
RESULTS = Path(__file__).with_name("results.json")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--only", choices=sorted(MODULES), action="append")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every benchmark's calls (default 1)"
    )
    parser.add_argument("--dir", help="folder for the databases (default: a temp folder)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    records: list[Record] = []
    with tempfile.TemporaryDirectory(prefix="ffwd-bench-", dir=args.dir) as tmp:
        print(f"benchmarks in {tmp}: candidates alternate call by call (scale {args.scale})")
        chosen = args.only or [n for n, m in MODULES.items() if getattr(m, "DEFAULT", True)]
        for name in chosen:
            folder = Path(tmp) / name
            folder.mkdir()
            for record in MODULES[name].run(folder, args.scale):
                print(record.summary(), flush=True)
                records.append(record)
    context = {
        "python": sys.version.split()[0],
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "scale": args.scale,
        "seconds": round(time.perf_counter() - started, 1),
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    context["modules"] = chosen
    write_results(records, args.output, context, merge=bool(args.only))
    failed = [r.name for r in records if not r.passed]
    print(f"{len(records) - len(failed)}/{len(records)} targets met; wrote {args.output}")
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
