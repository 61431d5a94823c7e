"""`make mutate`: mutation testing of the domain (ADR 0024).

1. mutmut over `domain/` against tests/unit and tests/stateful (config in pyproject.toml);
   its surviving mutants are printed with their diffs.
2. Mutants of what mutmut leaves alone (it mutates only inside functions): each entry of the
   rule book's tables dropped or sent elsewhere, each pair of neighbouring reasons swapped,
   and the hand-made mutants of `scripts/mutants.toml`. Each is applied to a copy of the
   repository and must be killed by tests/stateful alone.

Exits 1 when a mutant survives that is not listed as equivalent. `--only-regressions` skips
mutmut; `--max-children N` is mutmut's parallelism (default 1: the machine is shared).
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
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPIED = ["domain", "application", "adapters", "ffwd", "tests", "pyproject.toml"]
IGNORED = shutil.ignore_patterns("__pycache__", ".hypothesis", "*.db", "artifacts")
STATEFUL = ["-m", "pytest", "tests/stateful", "-x", "-q", "-p", "no:cacheprovider"]
STATEFUL += ["-m", "not postgres", "--hypothesis-seed=0"]
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
    parser.add_argument("--max-children", default="1")
    args = parser.parse_args()
    config = tomllib.loads((ROOT / "scripts" / "mutants.toml").read_text())
    equivalent = {e["id"]: e["why"] for e in config.get("equivalent", [])}
    started, unexplained = time.monotonic(), []
    if not args.only_regressions:
        unexplained += run_mutmut(args.max_children, equivalent)
    mutants = rule_book_mutants() + reason_order_mutants() + config["mutant"]
    killed = 0
    for mutant in mutants:
        survived = survives(mutant)
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


def run_mutmut(max_children: str, equivalent: dict[str, str]) -> list[str]:
    """mutmut's run, then its survivors: those not listed as equivalent are returned."""
    mutmut = str(Path(sys.executable).parent / "mutmut")
    shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    subprocess.run([mutmut, "run", "--max-children", max_children], cwd=ROOT, env=ENV)
    results = subprocess.run(
        [mutmut, "results", "--all", "true"], cwd=ROOT, env=ENV, capture_output=True, text=True
    ).stdout
    verdicts = dict(line.strip().rsplit(": ", 1) for line in results.splitlines() if ": " in line)
    survivors = [name for name, verdict in verdicts.items() if verdict != "killed"]
    total = len(verdicts)
    print(f"\nmutmut: {total - len(survivors)} of {total} killed", flush=True)
    unexplained = []
    for name in survivors:
        diff = subprocess.run(
            [mutmut, "show", name], cwd=ROOT, env=ENV, capture_output=True, text=True
        ).stdout
        listed = name in equivalent
        print(
            f"\n{verdicts[name]}: {name}" + (f" (equivalent: {equivalent[name]})" if listed else "")
        )
        print(diff.strip())
        if not listed:
            unexplained.append(name)
    return unexplained


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
