"""Reading a generator spec from a JSON or YAML file."""

import json
from pathlib import Path
from typing import Any

import yaml

from ffwd.domain.errors import InvalidSpec


def load_spec_file(path: str) -> tuple[Any, Path]:
    """The raw spec and the folder its table paths are relative to; InvalidSpec if unreadable."""
    file = Path(path)
    if not file.is_file():
        raise InvalidSpec([f"spec: no such file: {path}"])
    text = file.read_text(encoding="utf-8")
    try:
        raw = yaml.safe_load(text) if file.suffix in (".yaml", ".yml") else json.loads(text)
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        kind = "YAML" if file.suffix in (".yaml", ".yml") else "JSON"
        raise InvalidSpec([f"spec: {path} is not valid {kind}: {e}"]) from None
    return raw, file.resolve().parent
