"""The domain imports only the standard library, `transitions` and `eventsourcing.domain`."""

import ast
import sys
from pathlib import Path

DOMAIN = Path(__file__).parents[2] / "domain"
ALLOWED = {"transitions", "eventsourcing.domain"}
NO_IO = {
    "os",
    "io",
    "socket",
    "sqlite3",
    "subprocess",
    "threading",
    "time",
    "random",
    "shutil",
    "pathlib",
    "urllib",
    "http",
    "asyncio",
    "multiprocessing",
    "tempfile",
}


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_the_domain_is_pure() -> None:
    for path in DOMAIN.rglob("*.py"):
        for name in imports_of(path):
            top = name.split(".")[0]
            if top in sys.stdlib_module_names:
                assert top not in NO_IO, f"{path.name} imports {name}: the domain does no I/O"
            else:
                ours = name.startswith("ffwd.domain")
                assert name in ALLOWED or ours, f"{path.name} imports {name}"
