"""What the server refuses before any work (issue 13, ADR 0021): requests from other sites,
foreign Host names, bodies that are not small JSON, and, with a token, any read."""

import json
from uuid import UUID

import pytest

from tests.integration.http.helpers import assert_problem

EVIL = "http://evil.example"
TOKEN = "s3cret-token"


def mutations(gid: str, spec: dict) -> list[tuple[str, dict | None]]:
    return [
        ("/api/generators", spec),
        (f"/api/generators/{gid}/phases/tabular/stop", None),
        (f"/api/generators/{gid}/cancel", None),
        (f"/api/generators/{gid}/continue", None),
    ]


def test_a_simple_cross_site_post_is_refused_and_writes_nothing(client, spec, svc):
    """Was: `Content-Type: text/plain` (no preflight) from another site created a generator."""
    body = json.dumps(spec)
    for headers in (
        {"Content-Type": "text/plain", "Origin": EVIL},
        {"Content-Type": "text/plain"},
        {"Content-Type": "application/x-www-form-urlencoded"},
        {},
    ):
        response = client.post("/api/generators", content=body, headers=headers)
        expected = (403, "origin_not_allowed") if "Origin" in headers else None
        assert_problem(response, *(expected or (415, "unsupported_media_type")))
    assert svc.list_generators().items == []


@pytest.mark.parametrize(
    "headers",
    [
        {"Origin": EVIL},
        {"Origin": "null"},
        {"Origin": "http://localhost:1"},  # another port is another origin
        {"Origin": "https://localhost.evil.example"},
        {"Sec-Fetch-Site": "cross-site"},
        {"Sec-Fetch-Site": "same-site"},
    ],
)
def test_every_mutation_from_another_origin_is_refused(client, spec, svc, headers):
    gid = str(svc.create_generator(spec))
    for path, body in mutations(gid, spec):
        response = client.post(path, json=body, headers=headers)
        assert_problem(response, 403, "origin_not_allowed")
    assert [e.type for e in svc.history(UUID(gid))] == ["Created"]
    assert len(svc.list_generators().items) == 1


def test_mutations_from_the_servers_own_page_or_no_page_are_accepted(client, spec):
    same = {"Origin": "http://localhost", "Sec-Fetch-Site": "same-origin"}
    assert client.post("/api/generators", json=spec, headers=same).status_code == 201
    assert client.post("/api/generators", json=spec).status_code == 201  # curl, a script


@pytest.mark.parametrize("host", ["evil.example", "evil.example:8000", "127.0.0.2", ""])
def test_a_foreign_host_is_refused_everywhere_but_health(client, spec, svc, host):
    """Was: any Host was answered, so a page on a rebinding domain could read and write."""
    gid = str(svc.create_generator(spec))
    headers = {"Host": host}
    for path in ("/api/generators", f"/api/generators/{gid}", f"/generators/{gid}", "/"):
        assert_problem(client.get(path, headers=headers), 400, "host_not_allowed")
    assert_problem(
        client.post("/api/generators", json=spec, headers=headers), 400, "host_not_allowed"
    )
    assert client.get("/health", headers=headers).status_code == 200
    assert len(svc.list_generators().items) == 1


@pytest.mark.parametrize("host", ["localhost:8000", "127.0.0.1", "[::1]:8000", "LOCALHOST"])
def test_loopback_names_are_answered_by_default(client, host):
    assert client.get("/api/generators", headers={"Host": host}).status_code == 200


def test_a_redirect_never_names_the_requests_host(make_client):
    """Was: the trailing-slash redirect copied the Host header into `Location`."""
    for client, host in (
        (make_client(), "localhost:8000"),
        (make_client(allowed_hosts=["*"]), "evil.example"),
    ):
        response = client.get("/api/generators/", headers={"Host": host}, follow_redirects=False)
        assert response.status_code == 307
        assert response.headers["location"] == "/api/generators"


def test_a_body_over_1_mib_is_413_and_writes_nothing(client, spec, svc):
    """Was: no limit (a 200 MB body took the server from 100 to 687 MB)."""
    huge = {**spec, "padding": "x" * (1 << 20)}

    declared = client.post("/api/generators", json=huge)

    def chunks():  # no Content-Length: the server must count
        yield b'{"name": "x", "padding": "'
        for _ in range(3):
            yield b"x" * (1 << 19)
        yield b'"}'

    streamed = client.post(
        "/api/generators", content=chunks(), headers={"Content-Type": "application/json"}
    )
    for response in (declared, streamed):
        assert_problem(response, 413, "payload_too_large")
    assert svc.list_generators().items == []


def test_a_body_just_under_the_limit_is_read(client, spec):
    body = {**spec, "padding": "x" * ((1 << 20) - 1000)}

    body = assert_problem(client.post("/api/generators", json=body), 422, "invalid_spec")

    assert any("padding" in p for p in body["problems"])


@pytest.mark.parametrize("depth", [40, 5_000, 200_000])
def test_deeply_nested_json_is_an_invalid_spec(client, spec, svc, depth):
    """Was: 500 with RecursionError (sent as text/plain)."""
    gid = str(svc.create_generator(spec))
    nested = "[" * depth + "]" * depth
    for path, wrap in (
        ("/api/generators", '{"name": "x", "tables": %s}'),
        (f"/api/generators/{gid}/continue", '{"training": {"x": %s}}'),
    ):
        response = client.post(
            path, content=wrap % nested, headers={"Content-Type": "application/json"}
        )
        body = assert_problem(response, 422, "invalid_spec")
        assert any("nested" in p for p in body["problems"]), body
        text = client.post(path, content=wrap % nested, headers={"Content-Type": "text/plain"})
        assert_problem(text, 415, "unsupported_media_type")
    assert len(svc.list_generators().items) == 1


@pytest.fixture
def secured(make_client):
    return make_client(api_token=TOKEN)


def test_with_a_token_output_files_need_it(secured, svc, spec):
    """Was: `/generators/{id}/files/*` (the synthetic data and report) stayed open."""
    gid = svc.create_generator(spec)
    svc.run(gid)
    paths = [f"/generators/{gid}/files/customers.csv", f"/generators/{gid}/files/report.html"]
    for path in paths:
        body = assert_problem(secured.get(path), 401, "unauthorized")
        assert "Vienna" not in str(body)
        wrong = secured.get(path, headers={"Authorization": "Bearer no"})
        assert_problem(wrong, 401, "unauthorized")
        assert secured.get(path, headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_token_comes_before_origin_media_type_and_size(secured, spec, svc):
    response = secured.post(
        "/api/generators",
        content=b"x" * (2 << 20),
        headers={"Content-Type": "text/plain", "Origin": EVIL},
    )
    assert_problem(response, 401, "unauthorized")
    assert svc.list_generators().items == []


def test_a_name_cannot_inject_into_the_page_template(client, create):
    """Was: a name holding `{{initial}}` put the view JSON into the page's title and h1."""
    gid = create(name="{{initial}} {{gid}} {{assets}}")

    page = client.get(f"/generators/{gid}").text

    assert page.count('"phases":') == 1  # the view JSON, once: in its script element
    assert "<title>{{initial}} {{gid}} {{assets}} · ffwd</title>" in page
    assert '<h1 id="gen-name">{{initial}} {{gid}} {{assets}}</h1>' in page
