"""The README's embedded-use example really runs."""

import re
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_example_runs(tmp_path, monkeypatch) -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], str(README), "exec"), {"__name__": "readme"})
    assert (tmp_path / "ffwd.db").exists()
    assert list((tmp_path / "ffwd-data" / "outputs").glob("*/report.html"))


def test_the_readme_s_training_settings_are_valid() -> None:
    """Each YAML block of the README that sets `training` is a valid part of a spec."""
    import yaml

    from ffwd.application.spec import TrainingSpec

    blocks = re.findall(r"```yaml\n(training:\n.*?)```", README.read_text(), re.S)
    assert blocks, "no training settings in the README"
    for block in blocks:
        TrainingSpec.model_validate(yaml.safe_load(block)["training"])
