"""The folders whose files a spec sent to a server may name (ADR 0021)."""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ffwd.domain.errors import InputNotAllowed

_SHOWN = 200  # characters of a refused path quoted back: enough to recognise it
_TABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]{0,63}")


@dataclass(frozen=True)
class InputFolders:
    """A spec may name only files inside `folders` (symlinks resolved), relative paths being
    relative to the first; `max_table_bytes` bounds the size of each table file."""

    folders: tuple[Path, ...]
    max_table_bytes: int | None = None

    @classmethod
    def of(
        cls, folders: Iterable[str | Path], max_table_bytes: int | None = None
    ) -> "InputFolders":
        return cls(tuple(Path(f).resolve() for f in folders), max_table_bytes)

    @property
    def base(self) -> Path:
        """What relative table paths are relative to."""
        return self.folders[0] if self.folders else Path("/")

    def allows(self, path: str) -> bool:
        try:
            resolved = (self.base / path).resolve()
        except (OSError, ValueError, RuntimeError):  # a NUL byte, a symlink loop
            return False
        return any(resolved.is_relative_to(folder) for folder in self.folders)

    def confine(self, raw: Any) -> None:
        """InputNotAllowed naming each table of a raw spec whose file lies outside the folders.

        Checked before any file is opened, and worded alike whether the file exists or not.
        """
        tables = raw.get("tables") if isinstance(raw, dict) else None
        refused = []
        for i, table in enumerate(tables if isinstance(tables, list) else []):
            path = table.get("path") if isinstance(table, dict) else None
            if not isinstance(path, str) or not path or self.allows(path):
                continue
            name = table.get("name")
            where = name if isinstance(name, str) and _TABLE_NAME.fullmatch(name) else str(i)
            refused.append(
                f"tables.{where}.path: {path[:_SHOWN]!r} is outside this server's input folders"
            )
        if refused:
            raise InputNotAllowed("; ".join(refused))
