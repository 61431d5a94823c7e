"""A store that cannot be used says so (`store_unavailable`, exit 1 or HTTP 503), never with a
traceback: not a database, corrupt, read-only, locked past the lock timeout, unreachable; and
one generator whose history holds an event this version cannot read breaks only itself."""

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ffwd.adapters.container import build_service
from ffwd.adapters.http import create_app
from tests.integration.http.helpers import TestClient


def ffwd(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "ffwd", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def unavailable(done: subprocess.CompletedProcess, says: str) -> None:
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith("error: store_unavailable: "), done.stderr
    assert says in done.stderr, done.stderr


@pytest.fixture
def env(tmp_path: Path) -> dict:
    return {**os.environ, "FFWD_DATA": str(tmp_path / "data")}


@pytest.fixture
def made(tmp_path: Path, sample_spec: dict) -> tuple[str, list[str]]:
    """A store file with two generators: its URL and their ids."""
    url = f"sqlite:///{tmp_path}/store.db"
    svc = build_service(url, str(tmp_path / "data"))
    gids = [str(svc.create_generator(sample_spec)) for _ in range(2)]
    svc.store.close()
    return url, gids


COMMANDS = [
    ("list",),
    ("list", "--json"),
    ("show", "{gid}"),
    ("history", "{gid}"),
    ("stop", "{gid}", "tabular"),
    ("cancel", "{gid}"),
]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_a_file_that_is_not_a_store(env, tmp_path, command) -> None:
    path = tmp_path / "notes.db"
    path.write_bytes(b"these are my notes, not a database " * 100)
    args = [part.format(gid="0123456789abcdef") for part in command]
    unavailable(ffwd(env, "--lock-timeout", "1", *args, "--store", f"sqlite:///{path}"), "not an")
    assert path.read_bytes().startswith(b"these are my notes")  # nothing written


@pytest.mark.parametrize("damage", ["truncated", "overwritten"])
def test_a_corrupt_store(env, made, damage) -> None:
    url, gids = made
    path = Path(url.removeprefix("sqlite:///"))
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the main file
    data = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 3])
    else:  # every page past the first ruined
        path.write_bytes(data[:4096] + b"\xff" * (len(data) - 4096))
    for command in COMMANDS[1:]:
        args = [part.format(gid=gids[0]) for part in command]
        done = ffwd(env, *args, "--store", url)
        unavailable(done, "the store")


def test_a_store_locked_by_another_process_past_the_lock_timeout(env, made) -> None:
    url, gids = made
    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")  # as a process stuck in the middle of a write
    try:
        done = ffwd(env, "--lock-timeout", "1", "stop", gids[0], "tabular", "--store", url)
        unavailable(done, "is locked by another process")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    stopped = ffwd(env, "stop", gids[0], "tabular", "--store", url)
    assert stopped.returncode == 0, stopped.stderr  # and once the lock is gone, it works


@pytest.fixture
def read_only_folder(tmp_path: Path) -> Iterator[Path]:
    """A file system mounted read-write, then remounted read-only (as root, as CI runs)."""
    folder = tmp_path / "mounted"
    folder.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(folder)], check=True)
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_a_store_on_a_read_only_file_system(env, read_only_folder, sample_spec) -> None:
    url = f"sqlite:///{read_only_folder}/store.db"
    svc = build_service(url, str(read_only_folder / "data"))
    gid = str(svc.create_generator(sample_spec))
    svc.store.close()
    subprocess.run(["mount", "-o", "remount,ro", str(read_only_folder)], check=True)
    done = ffwd(env, "stop", gid, "tabular", "--store", url)
    unavailable(done, "the store")


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_unreachable_postgresql(env, command) -> None:
    url = "postgresql://ffwd:s3cret@127.0.0.1:9/ffwd"  # the discard port: nothing listens
    args = [part.format(gid="0123456789abcdef") for part in command]
    done = ffwd(env, *args, "--store", url, timeout=60)
    unavailable(done, "postgresql://ffwd@127.0.0.1:9/ffwd is unreachable")
    assert "s3cret" not in done.stderr


def insert_unreadable_event(url: str, gid: str) -> None:
    """An event written by a newer (or broken) release: a topic this version does not know."""
    path = url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        (version,) = db.execute(
            "SELECT MAX(originator_version) FROM stored_events WHERE originator_id = ?",
            [gid.replace("-", "")],
        ).fetchone()
        db.execute(
            "INSERT INTO stored_events VALUES (?, ?, ?, ?)",
            [gid.replace("-", ""), version + 1, "ffwd:Generator.Bogus", b"{}"],
        )


def test_an_unreadable_history_breaks_only_its_generator(env, made, sample_spec, tmp_path):
    url, (broken, fine) = made
    insert_unreadable_event(url, broken)

    listed = ffwd(env, "list", "--json", "--store", url)
    assert listed.returncode == 0, listed.stderr
    assert {g["id"] for g in json.loads(listed.stdout)["items"]} == {broken, fine}
    unavailable(ffwd(env, "show", broken, "--store", url), f"generator {broken}: its history")
    unavailable(ffwd(env, "stop", broken, "tabular", "--store", url), "cannot read")
    assert ffwd(env, "show", fine, "--store", url).returncode == 0
    assert ffwd(env, "stop", fine, "tabular", "--store", url).returncode == 0

    states = json.loads(ffwd(env, "list", "--json", "--store", url).stdout)["items"]
    assert {g["id"]: g["state"] for g in states}[broken] == "unreadable"  # out of the queue
    rebuilt = ffwd(env, "admin", "rebuild", "--store", url)
    assert rebuilt.returncode == 0, rebuilt.stderr
    after = json.loads(ffwd(env, "list", "--json", "--store", url).stdout)["items"]
    assert {g["id"]: g["state"] for g in after} == {broken: "unreadable", fine: "queued"}

    # A worker runs what it can read and passes the other by.
    worked = ffwd(env, "worker", "--once", "--store", url, timeout=300)
    assert worked.returncode == 0 and "Traceback" not in worked.stderr, worked.stderr
    shown = json.loads(ffwd(env, "show", fine, "--json", "--store", url).stdout)
    assert shown["state"] == "succeeded"

    svc = build_service(url, str(tmp_path / "data"))
    client = TestClient(create_app(svc, api_token="", inputs=[tmp_path]))
    response = client.get(f"/api/generators/{broken}")
    assert response.status_code == 503
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "store_unavailable"
    assert client.get(f"/api/generators/{fine}").status_code == 200
    assert client.get("/api/generators").status_code == 200
    svc.store.close()
