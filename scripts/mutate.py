"""`make mutate`: mutation testing of the domain (ADR 0024).

1. mutmut over issue 19's four modules of `domain/` against tests/unit (config in
   pyproject.toml): milliseconds a test, so most mutants die in a second or two.
2. Each mutant tests/unit let live (or reached with no unit test) against tests/stateful, in
   mutmut's own copy (`mutants/`, the mutant chosen by MUTANT_UNDER_TEST): the programs take a
   minute to pass, so they run only where they are needed. Survivors are printed with diffs.
3. Mutants of what mutmut leaves alone (it mutates only inside functions): each entry of the
   rule book's tables dropped or sent elsewhere, each pair of neighbouring reasons swapped,
   and the hand-made mutants of `scripts/mutants.toml`. Each is applied to a copy of the
   repository and must be killed by tests/stateful alone.

Exits 1 when a mutant survives that is not listed as equivalent. `--only-regressions` skips
mutmut, `--skip-regressions` the rest; `--max-children N` runs N mutants at a time (default 1:
the machine is shared).
"""

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ["domain", "application", "adapters", "ffwd", "tests", "pyproject.toml"]
IGNORED = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.db", "artifacts")
STATEFUL = ["-m", "pytest", "tests/stateful", "-x", "-q", "-p", "no:cacheprovider"]
STATEFUL += ["-m", "not postgres", "--hypothesis-seed=0"]
STATEFUL_TIMEOUT_S = 900  # a mutant that loops: its programs pass in about a minute
ENV = {**os.environ, "FFWD_STATEFUL_PROFILE": "mutate"}
TRANSITION = re.compile(r'^\s*\{"trigger": "(\w+)", "source": (.+), "dest": (\w+)\},$')
MACHINES = {
    "PHASE_MACHINE": ["PENDING", "RUNNING", "STOPPING", "SUCCEEDED", "FAILED", "CANCELLED"],
    "STEP_MACHINE": ["PENDING", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"],
    "GENERATOR_MACHINE": ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "CANCELLED"],
}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--only-regressions", action="store_true")
    parser.add_argument("--skip-regressions", action="store_true")
    parser.add_argument("--max-children", type=int, default=1)
    args = parser.parse_args()
    config = tomllib.loads((ROOT / "scripts" / "mutants.toml").read_text())
    equivalent = {e["id"]: e["why"] for e in config.get("equivalent", [])}
    started, unexplained = time.monotonic(), []
    if not args.only_regressions:
        unexplained += run_mutmut(args.max_children, equivalent)
        print(f"time: {time.monotonic() - started:.0f} s", flush=True)
    if args.skip_regressions:
        return 1 if unexplained else 0
    mutants = rule_book_mutants() + reason_order_mutants() + config["mutant"]
    with ThreadPoolExecutor(args.max_children) as pool:
        verdicts = pool.map(survives, mutants)
    killed = 0
    for mutant, survived in zip(mutants, verdicts, strict=True):
        killed += not survived
        verdict = "survived" if survived else "killed"
        print(f"{verdict:>8}  {mutant['id']}  ({mutant['why']})", flush=True)
        if survived and mutant["id"] not in equivalent:
            unexplained.append(mutant["id"])
    print(f"\nhand-made and table mutants: {killed} of {len(mutants)} killed by tests/stateful")
    print(f"time: {time.monotonic() - started:.0f} s")
    for name in unexplained:
        print(f"SURVIVED, not listed as equivalent: {name}")
    return 1 if unexplained else 0


def run_mutmut(max_children: int, equivalent: dict[str, str]) -> list[str]:
    """mutmut's run against tests/unit, then what it let live against tests/stateful; the
    survivors not listed as equivalent are returned."""
    mutmut = str(Path(sys.executable).parent / "mutmut")
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    run = [mutmut, "run", "--max-children", str(max_children)]
    ran = subprocess.run(run, cwd=ROOT, env=ENV, capture_output=True, text=True)
    if ran.returncode != 0:  # e.g. its clean run of the tests failed: no verdict means much
        sys.exit(f"mutmut failed:\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}")
    results = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=ROOT, env=ENV, capture_output=True, text=True
    ).stdout
    verdicts = dict(line.strip().rsplit(": ", 1) for line in results.splitlines() if ": " in line)
    total = len(verdicts)
    by_unit = sum(v == "killed" for v in verdicts.values())
    timeouts = sum(v == "timeout" for v in verdicts.values())
    left = [name for name, verdict in verdicts.items() if verdict not in ("killed", "timeout")]
    print(f"\nmutmut, tests/unit: {by_unit} killed, {timeouts} timed out, {len(left)} left")
    with ThreadPoolExecutor(max_children) as pool:
        stateful = dict(zip(left, pool.map(against_the_programs, left), strict=True))
    verdicts.update(stateful)
    survivors = [name for name in left if stateful[name] != "killed"]
    by_programs = len(left) - len(survivors)
    print(f"tests/stateful: {by_programs} of those {len(left)} killed")
    dead = total - len(survivors)
    print(f"mutmut's mutants: {dead} of {total} killed ({100 * dead / max(total, 1):.1f}%)")
    unexplained = []
    for name in survivors:
        diff = subprocess.run(
            [mutmut, "show", name], cwd=ROOT, env=ENV, capture_output=True, text=True
        ).stdout
        listed = name in equivalent
        print(
            f"\n{verdicts[name]}: {name}" + (f" (equivalent: {equivalent[name]})" if listed else "")
        )
        print(diff.strip(), flush=True)
        if not listed:
            unexplained.append(name)
    return unexplained


def against_the_programs(name: str) -> str:
    """tests/stateful on mutmut's copy with mutant `name` switched on: killed, timeout,
    survived, or suspicious (the run broke otherwise)."""
    env = {**ENV, "MUTANT_UNDER_TEST": name}
    try:
        run = subprocess.run(
            [sys.executable, *STATEFUL],
            cwd=ROOT / "mutants", env=env, capture_output=True, timeout=STATEFUL_TIMEOUT_S,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        return "timeout"
    return {0: "survived", 1: "killed"}.get(run.returncode, "suspicious")


def rule_book_mutants() -> list[dict]:
    """Each transition of each machine dropped, and sent to another state of its machine."""
    lines = (ROOT / "domain" / "lifecycle.py").read_text().splitlines(keepends=True)
    mutants, machine = [], None
    for i, line in enumerate(lines):
        nth = lines[:i].count(line)  # the same line may stand in several machines
        machine = next((m for m in MACHINES if line.startswith(f"{m} = ")), machine)
        found = TRANSITION.match(line.rstrip("\n"))
        if not found or machine is None:
            continue
        trigger, source, dest = found.groups()
        states = MACHINES[machine]
        other = states[(states.index(dest) + 1) % len(states)]
        label = f"{machine.split('_')[0].lower()} {source} -{trigger}-> {dest}"
        moved = line.replace(f'"dest": {dest}', f'"dest": {other}')
        path = "domain/lifecycle.py"
        mutants.append(_edit(f"rule book: drop {label}", path, line, "", nth))
        mutants.append(_edit(f"rule book: {label} goes to {other}", path, line, moved, nth))
    return mutants


def reason_order_mutants() -> list[dict]:
    text = (ROOT / "domain" / "reasons.py").read_text()
    order = re.search(r"ORDER = \(\n((?:    \w+,\n)+)\)", text)
    assert order, "reasons.ORDER not found"
    names = order.group(1).split()
    mutants = []
    for i in range(len(names) - 1):
        swapped = [*names[:i], names[i + 1], names[i], *names[i + 2 :]]
        old = "".join(f"    {n}\n" for n in names)
        new = "".join(f"    {n}\n" for n in swapped)
        why = f"{names[i + 1].rstrip(',')} before {names[i].rstrip(',')}"
        mutants.append(_edit(f"reasons: {why}", "domain/reasons.py", old, new))
    return mutants


def _edit(mutant_id: str, path: str, old: str, new: str, nth: int = 0) -> dict:
    return {"id": mutant_id, "why": "module-level data", "edits": [[path, old, new, nth]]}


def survives(mutant: dict) -> bool:
    """Whether tests/stateful still pass on a copy of the repository with the mutant."""
    with tempfile.TemporaryDirectory(prefix="ffwd-mutant-") as tmp:
        copy = Path(tmp)
        for name in COPIED:
            source = ROOT / name
            if source.is_dir():
                shutil.copytree(source, copy / name, symlinks=True, ignore=IGNORED)
            else:
                shutil.copy2(source, copy / name)
        for path, old, new, *nth in mutant["edits"]:
            target = copy / path
            text = target.read_text()
            if not nth:
                assert text.count(old) == 1, f"{mutant['id']}: {old!r} is not in {path} once"
            at = -1
            for _ in range((nth or [0])[0] + 1):
                at = text.index(old, at + 1)
            target.write_text(text[:at] + new + text[at + len(old) :])
        env = {**ENV, "PYTHONPATH": str(copy)}
        where = subprocess.run(
            [sys.executable, "-c", "import ffwd.domain.generator as g; print(g.__file__)"],
            cwd=copy, env=env, capture_output=True, text=True,
        ).stdout  # fmt: skip
        assert where.startswith(str(copy)), f"the copy is not what gets imported: {where}"
        run = subprocess.run([sys.executable, *STATEFUL], cwd=copy, env=env, capture_output=True)
        return run.returncode == 0


if __name__ == "__main__":
    sys.exit(main())
