"""Reading a generator spec from a JSON or YAML file, whatever is in the file."""

import json
from pathlib import Path
from typing import Any

import yaml

from ffwd.application.spec import MAX_VALUES, check_size
from ffwd.domain.errors import InvalidSpec

MAX_SPEC_BYTES = 1 << 20  # as a spec sent to the server: a spec is a few kilobytes


class BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing a document whose aliases expand it past MAX_VALUES
    values (a "billion laughs"): checked on the parsed nodes, before anything is built."""

    def construct_document(self, node: yaml.Node) -> Any:
        _check_expansion(node)
        return super().construct_document(node)


def _check_expansion(root: yaml.Node) -> None:
    stack, seen = [root], 0
    while stack:
        node = stack.pop()
        seen += 1
        if seen > MAX_VALUES:
            raise InvalidSpec([f"spec: more than {MAX_VALUES:,} values once its aliases expand"])
        if isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in node.value for part in pair)


def load_spec_file(path: str) -> tuple[Any, Path]:
    """The raw spec and the folder its table paths are relative to; InvalidSpec if unreadable."""
    file = Path(path)
    if not file.is_file():
        raise InvalidSpec([f"spec: no such file: {path}"])
    if file.stat().st_size > MAX_SPEC_BYTES:
        raise InvalidSpec([f"spec: {path} is larger than {MAX_SPEC_BYTES:,} bytes"])
    kind = "YAML" if file.suffix in (".yaml", ".yml") else "JSON"
    try:
        text = file.read_text(encoding="utf-8")
        raw = yaml.load(text, Loader=BoundedLoader) if kind == "YAML" else json.loads(text)
    except UnicodeDecodeError:
        raise InvalidSpec([f"spec: {path} is not UTF-8 text"]) from None
    except RecursionError:
        raise InvalidSpec([f"spec: {path} is nested too deeply"]) from None
    except (json.JSONDecodeError, yaml.YAMLError) as e:
        raise InvalidSpec([f"spec: {path} is not valid {kind}: {e}"]) from None
    check_size(raw)
    return raw, file.resolve().parent
