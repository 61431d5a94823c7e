"""The command line under hostile input (issue 13): spec files that are bombs or not text,
names that are markup or escape sequences, and a server that would start exposed."""

import json
import os
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest

from ffwd.adapters.datasets.csv_tables import SAMPLE_ROWS, CsvDatasets

NAME = "[link=http://evil.example]click[/link] \x1b[2J\x1b]0;owned\x07 \u202egnp.exe"
ROWS = "id,age\n" + "".join(f"{i},{20 + i % 40}\n" for i in range(60))
LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
name: laughs
tables: [{name: *i, path: people.csv}]
"""


@pytest.fixture
def env(tmp_path: Path) -> dict:
    (tmp_path / "people.csv").write_text(ROWS)
    return {
        **{k: v for k, v in os.environ.items() if k != "FFWD_API_TOKEN"},
        "FFWD_STORE": f"sqlite:///{tmp_path}/store.db",
        "FFWD_DATA": str(tmp_path / "data"),
        "FORCE_COLOR": "1",  # Rich draws as on a terminal: links, colours
        "COLUMNS": "200",
    }


def ffwd(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ffwd.adapters.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def rejected(result: subprocess.CompletedProcess, code: str = "invalid_spec") -> str:
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith(f"error: {code}: "), result.stderr
    assert "Traceback" not in result.stderr
    return result.stderr


def test_a_yaml_alias_bomb_is_rejected_at_once(env, tmp_path):
    """Was: `ffwd run` hung (1.9 GB after 60 s) turning the expanded names into text."""
    (tmp_path / "laughs.yaml").write_text(LAUGHS)

    # A generous deadline: the refusal takes well under a second, the bug took forever.
    result = ffwd(env, "run", str(tmp_path / "laughs.yaml"), timeout=60)

    assert "once its aliases expand" in rejected(result)


@pytest.mark.parametrize(
    ("name", "content", "says"),
    [
        ("latin1.json", b'{"name": "caf\xe9"}', "is not UTF-8 text"),
        ("deep.json", b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        ("deep.yaml", b"a: " + b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        ("nested.json", b'{"name": ' + b"[" * 500 + b"]" * 500 + b"}", "nested deeper than"),
        ("big.json", b'{"name": "' + b"x" * (1 << 20) + b'"}', "larger than"),
    ],
)
def test_a_spec_file_that_is_not_a_spec_is_an_error_not_a_traceback(
    env, tmp_path, name, content, says
):
    """Was: a traceback and exit 1 for a non-UTF-8 or deeply nested spec file."""
    (tmp_path / name).write_bytes(content)

    assert says in rejected(ffwd(env, "run", str(tmp_path / name)))


def test_names_reach_the_terminal_as_plain_text(env, tmp_path):
    """Was: the name became a clickable link in `ffwd history`, and its escape sequences
    cleared the screen and retitled the window in `ffwd show` and `ffwd list`."""
    spec = {"name": NAME, "tables": [{"name": "people", "path": "people.csv"}]}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    created = ffwd(env, "run", str(tmp_path / "spec.json"), "--detach")
    assert created.returncode == 0, created.stderr
    gid = created.stdout.strip()
    stopped = ffwd({**env, "USER": "\x1b[31mmallory"}, "stop", gid, "tabular")
    assert stopped.returncode == 0, stopped.stderr

    for args in (["show", gid], ["history", gid], ["list"], ["history", gid, "--at", "1"]):
        out = ffwd(env, *args).stdout
        assert "[link=http://evil.example]click[/link]" in out, args  # shown as written
        assert "\x1b]8;" not in out, args  # no hyperlink
        for raw in ("\x1b[2J", "\x1b]0;", "\x07", "\u202e", "\x1b[31m"):
            assert raw not in out, (args, raw)
        assert "\\x1b[2J" in out, args  # the escape is visible instead
    for args in (["show", gid, "--json"], ["list", "--json"]):
        assert json.loads(ffwd(env, *args).stdout)  # JSON escapes them itself


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["--host", "0.0.0.0"], "FFWD_API_TOKEN is not set"),
        (["--host", "::"], "FFWD_API_TOKEN is not set"),
        (["--host", "0.0.0.0", "--no-token"], "--allowed-host"),
        (["--inputs", "/no/such/folder"], "no such folder"),
    ],
)
def test_serve_refuses_to_start_exposed(env, args, says):
    result = ffwd(env, "serve", "--port", "1", *args)

    assert result.returncode == 2, result.stderr
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_beyond_loopback_with_a_token_only_needs_the_host_names(env):
    from ffwd.adapters.http.serve import answers_to, app_settings

    env_token = {**env, "FFWD_API_TOKEN": "t"}
    result = ffwd(env_token, "serve", "--port", "1", "--host", "0.0.0.0")
    assert result.returncode == 2 and "--allowed-host" in result.stderr
    assert answers_to("127.0.0.1", []) == ["127.0.0.1", "localhost", "127.0.0.1", "::1"]
    assert answers_to("192.0.2.7", []) == ["192.0.2.7"]
    settings = app_settings("127.0.0.1", env["FFWD_DATA"])
    assert settings["inputs"] == [Path(env["FFWD_DATA"]) / "inputs"]
    assert settings["inputs"][0].is_dir()


def test_the_table_check_reads_a_stream(tmp_path):
    """Was: a 50 MB CSV took 815 MB to check; now memory does not grow with the file."""
    file = tmp_path / "big.csv"
    row = "1,Vienna,likes long walks by the river and old maps,2021-01-01\n"
    with file.open("w") as f:
        f.write("id,city,bio,joined\n")
        for _ in range(40):
            f.write(row * 10_000)
    size = file.stat().st_size

    tracemalloc.start()
    try:
        info = CsvDatasets().describe(str(file))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()

    assert info.rows == 400_000 and info.columns == ["id", "city", "bio", "joined"]
    assert info.text_columns == []  # one value repeated: a category, not text
    assert peak < size / 2, (peak, size)  # the sample of SAMPLE_ROWS rows, not the file
    assert SAMPLE_ROWS * len(row) < size / 2
