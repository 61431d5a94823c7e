"""A spec sent to the server names only files in its input folders (issue 13, ADR 0021).

Was: `{"tables": [{"path": "/etc/passwd"}]}` was accepted, and every line of the file came
back in the synthetic CSV and the report; so did a key, an `.env` through `../`, and the store.
"""

import os
from pathlib import Path
from uuid import UUID

import pytest

from tests.integration.http.conftest import CUSTOMERS
from tests.integration.http.helpers import assert_problem

SECRET = "hunter2-do-not-leak"


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A readable CSV outside the input folder, with a secret in its first line."""
    file = tmp_path / "private" / "secret.csv"
    file.parent.mkdir()
    file.write_text(f"{SECRET},x\n1,2\n3,4\n", encoding="utf-8")
    return file


def refused_paths(tables: Path, outside: Path) -> dict[str, str]:
    (tables / "link.csv").symlink_to(outside)
    (tables / "sub").mkdir()
    (tables / "sub" / "up").symlink_to(outside.parent, target_is_directory=True)
    store = tables.parent / "store.db"
    store.write_bytes(b"SQLite format 3\x00" + SECRET.encode())
    return {
        "absolute": str(outside),
        "dot-dot": "../private/secret.csv",
        "symlink to a file outside": "link.csv",
        "symlink to a folder outside": "sub/up/secret.csv",
        "missing, outside": "/no/such/folder/x.csv",
        "etc passwd": "/etc/passwd",
        "a device": "/dev/zero",
        "the store": str(store),
        "the environment": "/proc/self/environ",
        "nul byte": "customers.csv\x00",
    }


def _table(path: str) -> dict:
    return {"name": "customers", "path": path}


def test_every_file_outside_the_input_folders_is_refused_alike(client, spec, svc, tables, outside):
    details = {}
    for case, path in refused_paths(tables, outside).items():
        response = client.post("/api/generators", json={**spec, "tables": [_table(path)]})
        body = assert_problem(response, 403, "input_not_allowed")
        assert SECRET not in response.text, case
        assert str(tables) not in response.text and str(outside) not in body["detail"].replace(
            repr(path)[1:-1], ""
        ), case
        details[case] = body["detail"].replace(repr(path), "PATH")
    # Whether the file exists, is a link or a device: the same answer.
    assert len(set(details.values())) == 1, details
    assert svc.list_generators().items == []


def test_a_malformed_spec_naming_an_outside_file_is_refused_before_the_file_is_read(
    client, spec, svc, outside
):
    bad = {**spec, "colour": "red", "tables": [{"name": 7, "path": str(outside)}]}

    response = client.post("/api/generators", json=bad)

    assert_problem(response, 403, "input_not_allowed")
    assert SECRET not in response.text
    assert svc.list_generators().items == []


def test_a_continue_override_naming_an_outside_file_is_refused(client, create, svc, outside):
    gid = create()
    svc.run(UUID(gid))
    override = {"tables": [_table(str(outside))]}

    response = client.post(f"/api/generators/{gid}/continue", json=override)

    assert_problem(response, 403, "input_not_allowed")
    assert SECRET not in response.text
    assert len(svc.list_generators().items) == 1


def test_relative_paths_name_files_in_the_first_input_folder(make_client, spec, svc, tables):
    second = tables.parent / "more"
    second.mkdir()
    (second / "people.csv").write_text(CUSTOMERS, encoding="utf-8")
    client = make_client(inputs=[tables, second])

    first = client.post("/api/generators", json={**spec, "tables": [_table("customers.csv")]})
    other = client.post(
        "/api/generators", json={**spec, "tables": [_table(str(second / "people.csv"))]}
    )
    elsewhere = client.post("/api/generators", json={**spec, "tables": [_table("people.csv")]})

    assert (first.status_code, other.status_code) == (201, 201)
    assert_problem(elsewhere, 422, "invalid_spec")  # inside the first folder: it may say so
    path = svc.get_view(first.json()["id"]).spec["tables"][0]["path"]
    assert path == str((tables / "customers.csv").resolve())


def test_the_command_line_is_not_confined(svc, spec, outside):
    gid = svc.create_generator({**spec, "tables": [_table(str(outside))]})

    assert svc.get_view(gid).spec["tables"][0]["path"] == str(outside)


@pytest.mark.parametrize(
    "content",
    [
        f"{SECRET},{SECRET}\n1,2\n",  # duplicate column names
        f"{SECRET}\n",  # no rows
        "id,name\n1,\xff\n",  # not UTF-8 below
        f"id,name\n1,{SECRET}{'x' * 140_000}\n",  # a field past the csv module's limit
    ],
    ids=["duplicate columns", "no rows", "not utf-8", "huge field"],
)
def test_errors_about_a_table_never_quote_its_contents_or_server_paths(
    client, spec, tables, content
):
    data = content.encode("latin-1") if "\xff" in content else content.encode()
    (tables / "odd.csv").write_bytes(data)

    response = client.post("/api/generators", json={**spec, "tables": [_table("odd.csv")]})

    body = assert_problem(response, 422, "invalid_spec")
    assert SECRET not in response.text
    assert str(tables) not in response.text
    assert body["problems"][0].startswith("tables.customers.path: 'odd.csv': ")


def test_a_table_file_above_the_servers_limit_is_refused_up_front(make_client, spec, tables):
    client = make_client(max_table_bytes=100)
    assert os.path.getsize(tables / "customers.csv") > 100

    response = client.post("/api/generators", json=spec)

    body = assert_problem(response, 422, "invalid_spec")
    assert "larger than this server's limit of 100 bytes" in body["detail"]
