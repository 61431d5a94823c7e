"""Errors: `application/problem+json` with the contract's `code`, 404 for an unknown id or
phase, 409 for a state conflict, 422 for invalid input."""

from typing import Any
from uuid import UUID

import pytest

from ffwd.adapters.http import create_app
from ffwd.domain import errors
from tests.integration.http.helpers import TestClient, assert_problem

UNKNOWN = "00000000-0000-4000-8000-000000000000"


def test_unknown_generator_on_every_route(client):
    for method, path in [
        ("GET", f"/api/generators/{UNKNOWN}"),
        ("GET", f"/api/generators/{UNKNOWN}/history"),
        ("GET", f"/api/generators/{UNKNOWN}/events"),
        ("POST", f"/api/generators/{UNKNOWN}/phases/tabular/stop"),
        ("POST", f"/api/generators/{UNKNOWN}/cancel"),
        ("POST", f"/api/generators/{UNKNOWN}/continue"),
        ("GET", "/api/generators/not-an-id"),
    ]:
        body = assert_problem(client.request(method, path), 404, "unknown_generator")
        assert body["instance"] == path


def test_unknown_phase(client, create):
    gid = create()

    body = assert_problem(
        client.post(f"/api/generators/{gid}/phases/text:orders/stop"), 404, "unknown_phase"
    )
    assert "text:orders" in body["detail"]


def test_stop_on_a_finished_phase_is_a_conflict(client, create, svc):
    gid = create()
    attempt = svc.start_phase(UUID(gid), "tabular", "w")
    svc.finish_phase(
        UUID(gid),
        "tabular",
        attempt,
        reasons=["max_epochs_reached"],
        checkpoint={"id": "c1", "epoch": 1, "step": 1},
        epoch=1,
        step=1,
        elapsed_s=0.1,
    )

    assert_problem(
        client.post(f"/api/generators/{gid}/phases/tabular/stop"), 409, "phase_already_finished"
    )


def test_stop_after_cancel_is_a_conflict(client, create):
    gid = create()
    client.post(f"/api/generators/{gid}/cancel")

    assert_problem(
        client.post(f"/api/generators/{gid}/phases/tabular/stop"), 409, "generator_cancelled"
    )


def test_cancel_of_a_succeeded_generator_is_a_conflict(client, create, svc):
    gid = create()
    svc.run(UUID(gid))

    assert_problem(client.post(f"/api/generators/{gid}/cancel"), 409, "generator_already_finished")


def test_continue_of_an_unfinished_generator_is_a_conflict(client, create):
    gid = create()

    assert_problem(client.post(f"/api/generators/{gid}/continue"), 409, "parent_not_succeeded")


def test_stop_and_continue_do_not_apply_to_anonymization(client, spec):
    anonymize = {key: value for key, value in spec.items() if key != "training"}
    gid = client.post("/api/generators", json={**anonymize, "kind": "anonymization"}).json()["id"]

    assert_problem(client.post(f"/api/generators/{gid}/phases/tabular/stop"), 409, "not_applicable")
    assert_problem(client.post(f"/api/generators/{gid}/continue"), 409, "not_applicable")


def test_an_invalid_spec_lists_every_problem(client, spec):
    bad = {
        **spec,
        "tables": [{"name": "customers", "path": "no/such.csv"}],
        "training": {"max_epochs": 0},
        "colour": "blue",
    }

    body = assert_problem(client.post("/api/generators", json=bad), 422, "invalid_spec")

    assert len(body["problems"]) >= 2
    assert any("max_epochs" in p for p in body["problems"])
    assert any("colour" in p for p in body["problems"])
    assert client.get("/api/generators").json()["items"] == []  # nothing was written


def test_a_missing_table_file_is_an_invalid_spec(client, spec):
    bad = {**spec, "tables": [{"name": "customers", "path": "no/such.csv"}]}

    body = assert_problem(client.post("/api/generators", json=bad), 422, "invalid_spec")

    assert body["problems"] == [p for p in body["problems"] if p.startswith("tables.customers")]


@pytest.mark.parametrize(
    ("content", "headers"),
    [
        (b"{not json", {"content-type": "application/json"}),
        (b"[1, 2]", {"content-type": "application/json"}),
        (b"", {"content-type": "application/json"}),
    ],
)
def test_a_body_that_is_not_a_spec_object_is_invalid(client, content, headers):
    body = assert_problem(
        client.post("/api/generators", content=content, headers=headers), 422, "invalid_spec"
    )
    assert body["problems"]


def test_invalid_continue_overrides(client, create, svc):
    gid = create()
    svc.run(UUID(gid))

    body = assert_problem(
        client.post(f"/api/generators/{gid}/continue", json={"training": {"max_epochs": -1}}),
        422,
        "invalid_spec",
    )
    assert any("max_epochs" in p for p in body["problems"])
    assert_problem(client.post(f"/api/generators/{gid}/continue", json=[1]), 422, "invalid_spec")


def test_unknown_routes_and_methods_are_problems_too(client):
    assert_problem(client.get("/api/nothing"), 404, "not_found")
    assert_problem(client.delete("/api/generators"), 405, "method_not_allowed")


class RaisingService:
    """A stand-in service whose every command raises the error under test."""

    workspace = None

    def __init__(self, error: errors.FfwdError) -> None:
        self.error = error

    def __getattr__(self, name: str) -> Any:
        def raising(*args: Any, **kwargs: Any) -> Any:
            raise self.error

        return raising


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.UnknownGenerator("x"), 404),
        (errors.UnknownPhase("x"), 404),
        (errors.AmbiguousId("x"), 422),
        (errors.InvalidSpec(["a: b", "c: d"]), 422),
        (errors.PhaseAlreadyFinished("x"), 409),
        (errors.GeneratorAlreadyFinished("x"), 409),
        (errors.GeneratorCancelled("x"), 409),
        (errors.NotApplicable("x"), 409),
        (errors.ParentNotSucceeded("x"), 409),
        (errors.StaleRunner("x"), 409),
        (errors.Conflict("x"), 409),
        (errors.InvalidTransition("x"), 409),
        (errors.Unauthorized("x"), 401),
    ],
    ids=lambda value: getattr(value, "code", str(value)),
)
def test_every_error_code_has_its_status(error, status):
    with TestClient(create_app(RaisingService(error), api_token="")) as client:
        for method, path in [
            ("POST", "/api/generators/abcdefgh/phases/text:customers/stop"),
            ("POST", "/api/generators/abcdefgh/cancel"),
            ("POST", "/api/generators/abcdefgh/continue"),
            ("GET", "/api/generators/abcdefgh"),
        ]:
            body = assert_problem(client.request(method, path), status, error.code)
            if isinstance(error, errors.InvalidSpec):
                assert body["problems"] == ["a: b", "c: d"]


def test_an_unexpected_failure_is_a_500_problem_without_internals():
    class Broken(RaisingService):
        pass

    app = create_app(Broken(RuntimeError("secret internals")), api_token="")  # type: ignore[arg-type]
    with TestClient(app, raise_server_exceptions=False) as client:
        body = assert_problem(client.get("/api/generators/abcdefgh"), 500, "internal_error")
    assert "secret" not in body["detail"]
