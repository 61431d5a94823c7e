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
