"""Every route of the HTTP table in CONTRACT.md, with its success status, through the ASGI
app on a memory store."""

from pathlib import Path
from typing import Any
from uuid import UUID

import pytest

from ffwd.adapters.http import create_app
from tests.integration.http.helpers import TestClient, assert_problem


def phase(view: dict[str, Any], phase_id: str) -> dict[str, Any]:
    return next(p for p in view["phases"] if p["id"] == phase_id)


def test_create_answers_201_with_the_id_of_a_queued_generator(client, spec):
    response = client.post("/api/generators", json=spec)

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    gid = response.json()["id"]
    assert UUID(gid)
    view = client.get(f"/api/generators/{gid}").json()
    assert view["state"] == "queued"
    assert [p["id"] for p in view["phases"]] == ["tabular", "text:customers"]
    assert [s["id"] for s in view["steps"]] == ["synthesis", "report"]


def test_table_paths_are_resolved_relative_to_the_servers_working_directory(
    client, spec, tables: Path, monkeypatch
):
    monkeypatch.chdir(tables)
    relative = {**spec, "tables": [{"name": "customers", "path": "customers.csv"}]}

    gid = client.post("/api/generators", json=relative).json()["id"]

    view = client.get(f"/api/generators/{gid}").json()
    assert view["spec"]["tables"][0]["path"] == str((tables / "customers.csv").resolve())


def test_the_view_json_has_the_contract_fields(client, create):
    gid = create()

    view = client.get(f"/api/generators/{gid}").json()

    assert {"id", "name", "kind", "state", "version", "parent", "created_at", "phases"} <= set(view)
    assert {"steps", "outputs"} <= set(view)
    assert view["id"] == gid and view["name"] == "customers-demo" and view["kind"] == "training"
    assert view["parent"] is None and view["version"] == 1
    assert view["created_at"].endswith("Z")
    tabular = phase(view, "tabular")
    assert {
        "id",
        "kind",
        "table",
        "state",
        "stop_requested",
        "reasons",
        "epoch",
        "step",
        "elapsed_s",
        "val_loss",
        "epsilon",
        "checkpoint",
    } <= set(tabular)
    assert phase(view, "text:customers")["table"] == "customers"
    assert [(s["id"], s["state"]) for s in view["steps"]] == [
        ("synthesis", "pending"),
        ("report", "pending"),
    ]


def test_a_generator_is_found_by_a_unique_prefix_of_8_characters(client, create):
    gid = create()

    assert client.get(f"/api/generators/{gid[:8]}").json()["id"] == gid
    assert client.get(f"/api/generators/{gid.upper()}").json()["id"] == gid
    assert_problem(client.get(f"/api/generators/{gid[:7]}"), 404, "unknown_generator")


def test_the_list_is_newest_first(client, create):
    first, second, third = create(name="first"), create(name="second"), create(name="third")

    response = client.get("/api/generators")

    assert response.status_code == 200
    page = response.json()
    listed = page["items"]
    assert page["next"] is None
    assert [g["id"] for g in listed] == [third, second, first]
    assert [g["name"] for g in listed] == ["third", "second", "first"]
    assert {"id", "name", "kind", "state", "created_at", "version"} <= set(listed[0])
    assert [p["id"] for p in listed[0]["phases"]] == ["tabular", "text:customers"]
    assert [s["state"] for s in listed[0]["steps"]] == ["pending", "pending"]


def test_the_list_comes_a_page_at_a_time_filtered_by_state_and_name(client, create):
    ids = [create(name=f"shop-{i}") for i in range(5)] + [create(name="other")]
    client.post(f"/api/generators/{ids[1]}/cancel")

    first = client.get("/api/generators", params={"limit": 2}).json()
    second = client.get("/api/generators", params={"limit": 2, "cursor": first["next"]}).json()
    third = client.get("/api/generators", params={"limit": 2, "cursor": second["next"]}).json()
    pages = [[g["id"] for g in p["items"]] for p in (first, second, third)]
    assert pages == [[ids[5], ids[4]], [ids[3], ids[2]], [ids[1], ids[0]]]
    assert third["next"] is None

    shops = client.get("/api/generators", params={"name": "SHOP"}).json()["items"]
    assert [g["id"] for g in shops] == ids[4::-1]
    queued = client.get("/api/generators", params={"state": "queued", "name": "shop-"})
    assert [g["id"] for g in queued.json()["items"]] == [ids[4], ids[3], ids[2], ids[0]]
    cancelled = client.get("/api/generators", params={"state": "cancelled"}).json()["items"]
    assert [(g["id"], g["state"]) for g in cancelled] == [(ids[1], "cancelled")]
    wildcard = client.get("/api/generators", params={"name": "%"}).json()["items"]
    assert wildcard == []  # the name is matched as text, not as a pattern


@pytest.mark.parametrize(
    "params",
    [{"state": "sleeping"}, {"limit": 0}, {"limit": 501}, {"cursor": "x1"}, {"cursor": "²"}],
)
def test_a_bad_list_query_is_an_invalid_query(client, params):
    response = client.get("/api/generators", params=params)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["code"] == "invalid_query"


def test_stop_on_a_pending_phase_is_pre_queued_and_answers_202_with_the_view(client, create):
    gid = create()

    response = client.post(
        f"/api/generators/{gid}/phases/text:customers/stop",
        headers={"X-Requested-By": "alice"},
    )

    assert response.status_code == 202
    view = response.json()
    text = phase(view, "text:customers")
    assert text["state"] == "pending" and text["stop_requested"] is True
    assert phase(view, "tabular")["stop_requested"] is False
    stop = client.get(f"/api/generators/{gid}/history").json()[-1]
    assert stop["type"] == "StopRequested"
    assert stop["phase"] == "text:customers"
    assert stop["requested_by"] == "alice"
    assert stop["data"]["phase_state_then"] == "pending"


def test_stop_on_a_running_phase_makes_it_stopping(client, create, svc):
    gid = create()
    svc.start_phase(UUID(gid), "tabular", "w")

    response = client.post(f"/api/generators/{gid}/phases/tabular/stop")

    assert response.status_code == 202
    tabular = phase(response.json(), "tabular")
    assert tabular["state"] == "stopping" and tabular["stop_requested"] is True
    assert response.json()["state"] == "running"
    stop = client.get(f"/api/generators/{gid}/history").json()[-1]
    assert stop["requested_by"] == "http"
    assert stop["data"]["phase_state_then"] == "running"


def test_a_second_stop_is_accepted_and_writes_nothing(client, create, svc):
    gid = create()
    svc.start_phase(UUID(gid), "tabular", "w")
    first = client.post(f"/api/generators/{gid}/phases/tabular/stop").json()

    again = client.post(f"/api/generators/{gid}/phases/tabular/stop")

    assert again.status_code == 202
    assert again.json()["version"] == first["version"]


def test_the_phase_id_may_be_url_encoded(client, create):
    gid = create()

    response = client.post(f"/api/generators/{gid}/phases/text%3Acustomers/stop")

    assert response.status_code == 202
    assert phase(response.json(), "text:customers")["stop_requested"] is True


def test_cancel_answers_202_with_the_cancelled_view(client, create):
    gid = create()

    response = client.post(f"/api/generators/{gid[:8]}/cancel", headers={"X-Requested-By": "bob"})

    assert response.status_code == 202
    view = response.json()
    assert view["state"] == "cancelled"
    assert {p["state"] for p in view["phases"]} == {"cancelled"}
    cancelled = client.get(f"/api/generators/{gid}/history").json()[-1]
    assert cancelled["type"] == "Cancelled" and cancelled["requested_by"] == "bob"


def test_continue_answers_201_with_the_child_and_applies_overrides(client, create, svc):
    gid = create()
    assert svc.run(UUID(gid)).state == "succeeded"

    response = client.post(f"/api/generators/{gid}/continue", json={"training": {"max_epochs": 3}})

    assert response.status_code == 201
    child = client.get(f"/api/generators/{response.json()['id']}").json()
    assert child["parent"] == gid
    assert child["state"] == "queued"
    assert child["spec"]["training"]["max_epochs"] == 3
    assert all(p["resumed_from"] for p in child["phases"])


def test_continue_without_a_body_keeps_the_parents_spec(client, create, svc):
    gid = create()
    svc.run(UUID(gid))

    response = client.post(f"/api/generators/{gid}/continue")

    assert response.status_code == 201
    child = client.get(f"/api/generators/{response.json()['id']}").json()
    assert child["spec"]["training"]["max_epochs"] == 1


def test_continue_with_more_epochs_and_the_curve(client, create, svc):
    gid = create()
    parent = svc.run(UUID(gid), progress_interval_s=0.0)

    response = client.post(f"/api/generators/{gid}/continue", json={"more_epochs": 4})

    assert response.status_code == 201
    child = client.get(f"/api/generators/{response.json()['id']}").json()
    kept = {p.id: p.checkpoint.epoch for p in parent.phases}
    assert {p["id"]: p["epoch_limit"] for p in child["phases"]} == {
        p: e + 4 for p, e in kept.items()
    }
    curve = client.get(f"/api/generators/{gid}/phases/tabular/metrics")
    assert curve.status_code == 200
    rows = curve.json()
    assert [r["epoch"] for r in rows] == list(range(1, parent.phases[0].epoch + 1))
    assert set(rows[0]) >= {"epoch", "step", "elapsed_s", "val_loss", "train_loss", "epsilon"}
    for bad in (0, "3", 2.5, True):
        refused = client.post(f"/api/generators/{gid}/continue", json={"more_epochs": bad})
        assert (refused.status_code, refused.json()["code"]) == (422, "invalid_spec")
    unknown = client.get(f"/api/generators/{gid}/phases/text:nowhere/metrics")
    assert (unknown.status_code, unknown.json()["code"]) == (404, "unknown_phase")


def test_history_lists_every_event_with_version_time_and_type(client, create, svc):
    gid = create(training={"max_epochs": 3})
    client.post(f"/api/generators/{gid}/phases/text:customers/stop")
    svc.run(UUID(gid))

    response = client.get(f"/api/generators/{gid}/history")

    assert response.status_code == 200
    entries = response.json()
    assert [e["version"] for e in entries] == list(range(1, len(entries) + 1))
    assert entries[0]["type"] == "Created" and entries[-1]["type"] == "Succeeded"
    assert all(e["timestamp"].endswith("Z") for e in entries)
    succeeded = [e for e in entries if e["type"] == "PhaseSucceeded"]
    assert {e["phase"]: e["data"]["reasons"] for e in succeeded} == {
        "tabular": ["max_epochs_reached"],  # 8 rows: one step per epoch
        "text:customers": ["manually_stopped"],
    }


def test_the_servers_workers_run_what_is_queued_whoever_queued_it(make_client, svc, spec):
    client = make_client(workers=2, progress_interval_s=0.05)

    gid = client.post("/api/generators", json=spec).json()["id"]
    queued_elsewhere = str(svc.create_generator(spec))  # as `ffwd run --detach` would
    assert client.app.state.runs.wait_idle(120)
    for done in (gid, queued_elsewhere):
        assert client.get(f"/api/generators/{done}").json()["state"] == "succeeded"
    child = client.post(f"/api/generators/{gid}/continue").json()["id"]
    assert client.app.state.runs.wait_idle(120)
    assert client.get(f"/api/generators/{child}").json()["state"] == "succeeded"


def test_with_no_workers_a_created_generator_stays_queued(client, spec):
    gid = client.post("/api/generators", json=spec).json()["id"]

    assert client.app.state.runs is None
    assert client.get(f"/api/generators/{gid}").json()["state"] == "queued"


def test_openapi_and_its_page(client):
    paths = client.get("/openapi.json").json()["paths"]

    assert set(paths) == {
        "/api/generators",
        "/api/generators/{generator}",
        "/api/generators/{generator}/phases/{phase}/stop",
        "/api/generators/{generator}/phases/{phase}/metrics",
        "/api/generators/{generator}/cancel",
        "/api/generators/{generator}/continue",
        "/api/generators/{generator}/history",
        "/api/generators/{generator}/events",
        "/health",
    }
    assert client.get("/health").json() == {"status": "ok"}
    page = client.get("/docs")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/api/generators/{generator}/phases/{phase}/stop" in page.text
    assert "cdn" not in page.text.lower()


def test_the_app_factory_reads_the_token_from_the_environment(svc, monkeypatch):
    monkeypatch.setenv("FFWD_API_TOKEN", "s3cret")
    with TestClient(create_app(svc)) as client:
        assert_problem(client.post("/api/generators", json={}), 401, "unauthorized")
