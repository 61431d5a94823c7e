"""The Anonymizer port: each table's CSV, its columns anonymized as the spec says, written out."""

import hashlib
import importlib.util
import os
from collections.abc import Mapping
from pathlib import Path

from ffwd.adapters.anonymization.values import type_problem
from ffwd.adapters.datasets.csv_tables import SAMPLE_ROWS, read_rows, write_csv
from ffwd.application.ports import DatasetProblem
from ffwd.application.spec import AnonymizationSpec, GeneratorSpec, Hash, Mock
from ffwd.domain.errors import InvalidSpec

Table = tuple[list[str], list[dict[str, str]]]
INSTALL = "pip install 'ffwd[anonymization]'"


class AindoAnonymizer:
    """Anonymizes with aindo-anonymize; columns not named in the spec are copied unchanged.

    Repeatable: the same spec over the same tables writes the same files (every random
    technique is seeded from the spec's `seed`, the table's and the column's name).
    """

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        self.environ = os.environ if environ is None else environ

    def unavailable(self) -> str | None:
        """Why anonymization cannot run here: aindo-anonymize is not installed (looked for,
        not imported)."""
        if installed():
            return None
        return f"anonymization needs aindo-anonymize, which is not installed: {INSTALL}"

    def check(self, spec: GeneratorSpec) -> list[str]:
        """The spec's problems with the tables' data: unknown tables or columns, a column a
        technique cannot take, an unknown Faker locale; empty when none.

        What a service can reject when a generator is created. The hash key's environment
        variable is not checked here: it must be set where the generator runs, and is
        checked there, by `anonymize`. Column types are checked on the first `SAMPLE_ROWS`
        rows (memory bounded); `anonymize` checks every row again.
        """
        tables, problems = {}, []
        for table in spec.tables:
            try:
                tables[table.name] = read_rows(table.path, limit=SAMPLE_ROWS)
            except DatasetProblem as e:
                problems.append(f"tables.{table.name}.path: {e}")
        return problems + self._problems(spec, tables, environment=False)

    def anonymize(self, spec: GeneratorSpec, out_dir: str) -> dict[str, str]:
        """Write `{out_dir}/{table}.csv` for every table: same columns, order and row count.

        Nothing is written unless every table can be anonymized.
        """
        tables = {table.name: read_rows(table.path) for table in spec.tables}
        problems = self._problems(spec, tables, environment=True)
        if problems:
            raise InvalidSpec(problems)
        techniques = _techniques()
        settings = spec.anonymization or AnonymizationSpec()
        done = {}
        for name, (columns, rows) in tables.items():
            cells = {c: [row[c] or "" for row in rows] for c in columns}
            for column, technique in settings.columns.get(name, {}).items():
                seed = column_seed(settings.seed, name, column)
                cells[column] = techniques.anonymize_column(
                    technique, cells[column], seed, self.environ
                )
            done[name] = (columns, cells)
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {}
        for name, (columns, cells) in done.items():
            paths[name] = str(out / f"{name}.csv")
            write_csv(Path(paths[name]), columns, cells)
        return paths

    def _problems(
        self, spec: GeneratorSpec, tables: Mapping[str, Table], *, environment: bool
    ) -> list[str]:
        settings = spec.anonymization or AnonymizationSpec()
        known = {t.name: (tables[t.name][0] if t.name in tables else None) for t in spec.tables}
        problems = settings.problems(known)
        for name, columns in settings.columns.items():
            if name not in tables:
                continue
            header, rows = tables[name]
            for column, technique in columns.items():
                if column not in header:
                    continue
                where = f"anonymization.columns.{name}.{column}"
                values = [row[column] or "" for row in rows]
                problem = type_problem(technique.technique, values) or self._option_problem(
                    technique, environment
                )
                if problem:
                    problems.append(f"{where}: {problem}")
        return problems

    def _option_problem(self, technique: object, environment: bool) -> str | None:
        key_env = technique.key_env if isinstance(technique, Hash) and environment else None
        if key_env is not None and not self.environ.get(key_env):
            return f"hash: the environment variable {key_env} is not set"
        if isinstance(technique, Mock) and technique.locale is not None:
            try:
                from faker.config import AVAILABLE_LOCALES
            except ImportError:  # reported when it runs: the extra is not installed
                return None
            if technique.locale not in AVAILABLE_LOCALES:
                return f"mock: Faker has no locale {technique.locale!r}"
        return None


def installed() -> bool:
    """Whether aindo-anonymize can be imported (found without importing it)."""
    try:
        return importlib.util.find_spec("aindo.anonymize") is not None
    except (ImportError, ValueError):
        return False


def column_seed(seed: int, table: str, column: str) -> int:
    """A 32-bit seed of its own for each column, so that naming one more column in the spec
    changes no other column's output."""
    digest = hashlib.blake2b(f"{seed}\0{table}\0{column}".encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big")


def _techniques():
    try:
        from ffwd.adapters.anonymization import techniques
    except ImportError as e:
        raise RuntimeError(f"anonymization needs aindo-anonymize ({e}): {INSTALL}") from None
    return techniques
