"""The README's plain-PyTorch engine (section "Real engines") really runs: a pre-queued stop
after one step, then continue training from that checkpoint to synthesis and report."""

import re
from pathlib import Path

README = Path(__file__).parents[3] / "README.md"


def test_the_real_engines_example_runs(tmp_path, monkeypatch, capsys) -> None:
    section = README.read_text().split("\n## Real engines\n", 1)[1].split("\n## ", 1)[0]
    # "py example": not a bare "py" block, which other README tests collect
    blocks = re.findall(r"```py example\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], f"{README}#real-engines", "exec"), {"__name__": "readme"})
    first, second = capsys.readouterr().out.splitlines()
    assert first == "['manually_stopped'] 1"
    assert second.endswith(" succeeded")
    outputs = sorted((tmp_path / "marginals-data" / "outputs").glob("*/colors.csv"))
    assert len(outputs) == 2
    assert outputs[0].read_text().startswith("color,size\n")


def test_the_lightning_example_runs(tmp_path, monkeypatch, capsys) -> None:
    section = README.read_text().split("\n## Real engines\n", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```py lightning\n(.*?)```", section, re.S)
    assert len(blocks) == 1
    monkeypatch.chdir(tmp_path)
    exec(compile(blocks[0], f"{README}#lightning", "exec"), {"__name__": "readme"})
    last = capsys.readouterr().out.strip().splitlines()[-1]
    assert last == "['max_epochs_reached'] 3 21"
