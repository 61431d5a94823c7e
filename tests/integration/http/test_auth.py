"""`FFWD_API_TOKEN`: every mutating request needs `Authorization: Bearer <token>`; reads
do not."""

from uuid import UUID

import pytest

from tests.integration.http.helpers import assert_problem

TOKEN = "correct horse battery staple"


@pytest.fixture
def secured(make_client):
    return make_client(api_token=TOKEN)


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_mutating_requests_without_the_token_are_401(secured, spec, svc):
    gid = str(svc.create_generator(spec))
    for path in [
        "/api/generators",
        f"/api/generators/{gid}/phases/tabular/stop",
        f"/api/generators/{gid}/cancel",
        f"/api/generators/{gid}/continue",
    ]:
        response = secured.post(path, json=spec if path == "/api/generators" else None)
        body = assert_problem(response, 401, "unauthorized")
        assert response.headers["www-authenticate"].startswith("Bearer")
        assert TOKEN not in body["detail"]
    # Nothing happened: no stop, no cancel, no new generator.
    assert [e.type for e in svc.history(UUID(gid))] == ["Created"]
    assert len(svc.list_generators().items) == 1


@pytest.mark.parametrize(
    "header",
    [
        f"Bearer {TOKEN}x",
        f"Bearer {TOKEN[:-1]}",
        "Bearer ",
        f"Basic {TOKEN}",
        TOKEN,
    ],
)
def test_a_wrong_token_is_401(secured, spec, header):
    response = secured.post("/api/generators", json=spec, headers={"Authorization": header})

    assert_problem(response, 401, "unauthorized")


MALFORMED = b"{nope"
JSON = {"Content-Type": "application/json"}


@pytest.mark.parametrize("header", [{}, auth("wrong")], ids=["no token", "wrong token"])
def test_the_token_is_checked_before_the_body_is_read(secured, spec, svc, header):
    gid = str(svc.create_generator(spec))
    for path in ["/api/generators", f"/api/generators/{gid}/continue"]:
        well_formed = secured.post(path, json=spec, headers=header)
        malformed = secured.post(path, content=MALFORMED, headers={**JSON, **header})

        assert_problem(malformed, 401, "unauthorized")
        assert malformed.json() == well_formed.json()
        assert malformed.headers["www-authenticate"] == well_formed.headers["www-authenticate"]


def test_with_the_token_a_malformed_body_is_still_an_invalid_spec(secured):
    response = secured.post("/api/generators", content=MALFORMED, headers={**JSON, **auth()})

    assert_problem(response, 422, "invalid_spec")


def test_with_the_token_mutations_succeed(secured, spec, svc):
    created = secured.post("/api/generators", json=spec, headers=auth())
    assert created.status_code == 201
    gid = created.json()["id"]

    stop = secured.post(f"/api/generators/{gid}/phases/text:customers/stop", headers=auth())
    cancel = secured.post(f"/api/generators/{gid}/cancel", headers=auth())

    assert (stop.status_code, cancel.status_code) == (202, 202)


def test_reads_need_the_token_too(secured, spec, svc):
    """Was: every read stayed open with a token set (issue 13)."""
    gid = str(svc.create_generator(spec))
    reads = [
        "/api/generators",
        f"/api/generators/{gid}",
        f"/api/generators/{gid}/history",
        f"/api/generators/{gid}/events?after=0",
        f"/api/generators/{gid[:8]}",
        "/api/generators/00000000-0000-0000-0000-000000000000",  # unknown: 401 all the same
    ]
    for path in reads:
        for headers in ({}, auth("wrong"), {"Authorization": f"Basic {TOKEN}"}):
            body = assert_problem(secured.get(path, headers=headers), 401, "unauthorized")
            assert spec["name"] not in str(body)

    assert secured.get(f"/api/generators/{gid}", headers=auth()).json()["name"] == spec["name"]
    assert secured.get("/api/generators", headers=auth()).status_code == 200
    assert secured.get("/health").json() == {"status": "ok"}


def test_with_a_token_the_pages_hold_no_data(secured, spec, svc):
    gid = str(svc.create_generator(spec))
    for path in (f"/generators/{gid}", "/generators/00000000-nope", "/"):
        page = secured.get(path)
        assert page.status_code == 200  # an unknown id's page looks like any other
        assert spec["name"] not in page.text
        assert '"initial-view">null<' in page.text or path == "/"  # the list has no data


def test_without_a_token_configured_no_header_is_needed(client, spec):
    assert client.post("/api/generators", json=spec).status_code == 201
