"""One record per benchmark: measured value, reference value, their ratio and the target."""

import json
import operator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

_COMPARE = {">=": operator.ge, "<=": operator.le}


@dataclass(frozen=True)
class Record:
    """A measured figure against a reference figure from the same run.

    `ratio` is what the target applies to, e.g. measured/reference for a rate, or
    reference/measured for a speed-up; `line` is the human-readable summary.
    """

    name: str
    line: str
    measured: float
    reference: float
    unit: str
    ratio: float
    op: str
    target: float
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return _COMPARE[self.op](self.ratio, self.target)

    def summary(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        return f"{self.line} -> {self.ratio:.2f}x (target {self.op} {self.target:.2f}) {verdict}"

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


def write_results(
    records: list[Record], path: Path, context: dict[str, Any], *, merge: bool = False
) -> None:
    """Write every record, keyed by name, with the run's context (machine, settings). With
    `merge` (a run of some modules), the records of the others already in the file stay."""
    kept: dict[str, Any] = {}
    if merge and path.exists():
        kept = json.loads(path.read_text()).get("benchmarks", {})
    payload = {
        "context": context,
        "benchmarks": kept | {r.name: r.as_dict() for r in records},
    }
    path.write_text(json.dumps(payload, indent=2, sort_keys=False) + "\n")
