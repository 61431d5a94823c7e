"""A spec checked against the world before anything is written: its tables, its engine, its
privacy budget and its anonymization, with every problem listed at once."""

from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

from ffwd.application.inputs import InputFolders
from ffwd.application.ports import DatasetProblem, Datasets
from ffwd.application.privacy import PrivacyAccountant
from ffwd.application.privacy_check import budget_problems
from ffwd.application.spec import GeneratorSpec, TableSpec, TrainingSpec, parse_spec
from ffwd.application.training import Anonymizer
from ffwd.domain.errors import InvalidSpec
from ffwd.domain.generator import ANONYMIZATION, TRAINING
from ffwd.domain.parts import TABULAR, text_phase_id


class SpecCheck:
    """`engines` names the known engines (a mapping lets an engine say how it samples rows
    under differential privacy); `accountant` checks private budgets."""

    def __init__(
        self,
        datasets: Datasets,
        engines: Collection[str] | Mapping[str, Any],
        anonymizer: Anonymizer | None = None,
        accountant: PrivacyAccountant | None = None,
    ) -> None:
        self.datasets, self.engines, self.anonymizer = datasets, engines, anonymizer
        self.accountant = accountant

    def __call__(
        self,
        raw: GeneratorSpec | dict[str, Any],
        base_dir: Path,
        inputs: InputFolders | None = None,
    ) -> GeneratorSpec:
        """The spec with absolute table paths and text columns resolved, or InvalidSpec
        listing every problem: those of its format and, even then, those of its tables.

        With `inputs` (a spec sent to a server), its table paths are relative to the first
        input folder, and a file outside them is refused before any is opened.
        """
        max_bytes = None
        if inputs is not None:
            inputs.confine(raw.model_dump() if isinstance(raw, GeneratorSpec) else raw)
            base_dir, max_bytes = inputs.base, inputs.max_table_bytes
        try:
            spec = parse_spec(raw)
        except InvalidSpec as e:
            raise InvalidSpec(e.problems + self._unreadable(raw, base_dir, max_bytes)) from None
        problems, tables = [], []
        if spec.kind == TRAINING and self.engines and spec.engine not in self.engines:
            known = ", ".join(sorted(self.engines))
            problems.append(f"engine: unknown engine {spec.engine!r} (known: {known})")
        columns: dict[str, list[str] | None] = {}
        rows: dict[str, int] = {}
        for table in spec.tables:
            path = _resolved(base_dir, table.path)
            columns[table.name] = None
            try:
                info = self.datasets.describe(str(path), max_bytes)
            except DatasetProblem as e:
                problems.append(f"tables.{table.name}.path: {table.path!r}: {e}")
                continue
            columns[table.name], rows[table.name] = info.columns, info.rows
            missing = sorted(set(table.text_columns or []) - set(info.columns))
            if missing:
                problems.append(f"tables.{table.name}.text_columns: no such columns {missing}")
            text = info.text_columns if table.text_columns is None else table.text_columns
            if spec.kind == ANONYMIZATION:
                text = []
            tables.append(table.model_copy(update={"path": str(path), "text_columns": text}))
        if spec.kind == ANONYMIZATION:
            problems += self._anonymizer_missing()
        if not problems and spec.training is not None:
            problems += self._budget(spec.training, tables, rows, columns, spec.engine)
        if spec.anonymization is not None:
            problems += spec.anonymization.problems(columns)
            if not problems and self.anonymizer is not None:
                # Column types and the like, from the data: rejected here, not when it runs.
                problems += self.anonymizer.check(spec.model_copy(update={"tables": tables}))
        if problems:
            raise InvalidSpec(problems)
        return spec.model_copy(update={"tables": tables})

    def _anonymizer_missing(self) -> list[str]:
        """An anonymizer that cannot run here (its extra is not installed): refused now, not
        when the generator runs."""
        missing = self.anonymizer.unavailable() if self.anonymizer is not None else None
        return [f"kind: {missing}"] if missing else []

    def _budget(
        self,
        training: TrainingSpec,
        tables: list[TableSpec],
        rows: Mapping[str, int],
        columns: Mapping[str, list[str] | None],
        engine: str,
    ) -> list[str]:
        """Whether each private phase's budget can work (ADR 0022)."""
        if training.differential_privacy is None or self.accountant is None:
            return []
        phases: dict[str, list[int]] = {}
        for table in tables:
            text = table.text_columns or []
            if any(c not in text for c in columns[table.name] or []):
                phases.setdefault(TABULAR, []).append(rows[table.name])
            if text:
                phases[text_phase_id(table.name)] = [rows[table.name]]
        found = self.engines.get(engine) if isinstance(self.engines, Mapping) else None
        return budget_problems(training, phases, found, self.accountant)

    def _unreadable(self, raw: Any, base_dir: Path, max_bytes: int | None) -> list[str]:
        """The tables of a spec too malformed to parse whose files cannot be read."""
        found = []
        tables = raw.get("tables") if isinstance(raw, dict) else None
        for i, table in enumerate(tables if isinstance(tables, list) else []):
            path = table.get("path") if isinstance(table, dict) else None
            if not isinstance(path, str) or not path:
                continue
            name = table.get("name")
            try:
                self.datasets.describe(str(_resolved(base_dir, path)), max_bytes)
            except DatasetProblem as e:
                where = name if isinstance(name, str) else i
                found.append(f"tables.{where}.path: {path!r}: {e}")
        return found


def _resolved(base_dir: Path, path: str) -> Path:
    """The absolute path, symlinks resolved where it can be (a NUL byte or a link loop: as
    given, and then no such file)."""
    try:
        return (base_dir / path).resolve()
    except (OSError, ValueError, RuntimeError):
        return base_dir / path
