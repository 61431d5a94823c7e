"""The built wheel, installed (not editable) into a fresh virtual environment, works beside
an application that has its own `domain`, `application` and `adapters` packages."""

import os
import re
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[3]
CONSUMER = Path(__file__).with_name("consumer.py")
README = ROOT / "README.md"

pytestmark = pytest.mark.slow


def run(*command: str | Path, cwd: Path, timeout: float = 600, **env: str) -> str:
    done = subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **env},
    )
    assert done.returncode == 0, f"{command}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done.stdout + done.stderr


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """(the fresh environment's bin folder, what building and installing printed)."""
    tmp = tmp_path_factory.mktemp("wheel")
    # A copy of the sources (its symlinks kept), since a build writes into the tree it builds.
    source = tmp / "source"
    leave_out = shutil.ignore_patterns(".*", "build", "*.egg-info", "__pycache__", "tests")
    shutil.copytree(ROOT, source, symlinks=True, ignore=leave_out)
    pip = (sys.executable, "-m", "pip")
    built = run(*pip, "wheel", "--no-deps", "-w", tmp / "dist", source, cwd=tmp)
    wheels = list((tmp / "dist").glob("ffwd-*.whl"))
    assert len(wheels) == 1, wheels
    venv.create(tmp / "env", with_pip=True)
    bin_dir = tmp / "env" / "bin"
    printed = run(bin_dir / "python", "-m", "pip", "install", wheels[0], cwd=tmp)
    return bin_dir, built + printed


@pytest.fixture
def app_with_its_own_layers(tmp_path: Path) -> Path:
    """An application laid out as hexagonal code bases are: its own three packages."""
    for name in ("domain", "application", "adapters"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "__init__.py").write_text(f"OWNER = 'the app: {name}'\n")
    return tmp_path


def test_building_and_installing_print_no_deprecation(installed) -> None:
    _, printed = installed
    assert "deprecat" not in printed.lower(), printed


def test_nothing_is_installed_as_a_top_level_layer(installed, tmp_path) -> None:
    bin_dir, _ = installed
    probe = (
        "import importlib.util as u; "
        "print([n for n in ('domain', 'application', 'adapters') if u.find_spec(n)])"
    )
    assert run(bin_dir / "python", "-c", probe, cwd=tmp_path).strip() == "[]"


def test_the_apps_own_layers_and_ffwd_live_side_by_side(installed, app_with_its_own_layers):
    bin_dir, _ = installed
    probe = (
        "import domain, application, adapters, ffwd\n"
        "assert domain.OWNER == 'the app: domain', domain.__file__\n"
        "assert adapters.OWNER == 'the app: adapters'\n"
        "from ffwd import build_service, GeneratorSpec, GeneratorView, FfwdError\n"
        "import ffwd.domain.generator, ffwd.adapters.container\n"
        "assert 'site-packages' in ffwd.domain.generator.__file__\n"
        "assert domain.OWNER == 'the app: domain'\n"
        "print(ffwd.__version__)\n"
    )
    assert run(bin_dir / "python", "-c", probe, cwd=app_with_its_own_layers).strip()


def test_the_readme_example_runs_from_the_wheel(installed, app_with_its_own_layers) -> None:
    bin_dir, _ = installed
    (example,) = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    script = app_with_its_own_layers / "example.py"
    script.write_text(example)
    run(bin_dir / "python", script, cwd=app_with_its_own_layers)
    assert list((app_with_its_own_layers / "ffwd-data" / "outputs").glob("*/report.html"))


def test_the_demo_runs_from_the_wheel(installed, app_with_its_own_layers) -> None:
    bin_dir, _ = installed
    printed = run(bin_dir / "ffwd", "demo", cwd=app_with_its_own_layers, COLUMNS="160")
    assert "Manually stopped" in printed and "Quality report" in printed, printed


def test_a_consumer_of_the_facade_passes_mypy_strict(installed, tmp_path) -> None:
    """Against the installed wheel (its py.typed), from a folder outside the repository, so
    that mypy cannot find the sources instead."""
    bin_dir, _ = installed
    consumer = tmp_path / "consumer.py"
    consumer.write_text(CONSUMER.read_text())
    mypy = Path(sys.executable).with_name("mypy")
    python = bin_dir / "python"
    run(mypy, "--strict", "--no-incremental", "--python-executable", python, consumer, cwd=tmp_path)
