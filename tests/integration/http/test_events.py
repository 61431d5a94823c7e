"""`GET /api/generators/{id}/events`: server-sent events, one message per new stored event
with `id:` = its version; `?after=N` or a reconnect's `Last-Event-ID` resumes after that
version (`?after=0`: the whole history); the stream ends once the generator is finished and
every event was sent."""

import json
import threading
import time
from typing import Any

import httpx

from ffwd.adapters.container import build_service
from ffwd.adapters.http import create_app
from ffwd.adapters.http.serve import BackgroundServer


def parse(text: str) -> list[dict[str, Any]]:
    """SSE messages as {"id", "event", "data"}; comments and the retry hint left out."""
    messages = []
    for block in text.strip().split("\n\n"):
        fields: dict[str, Any] = {}
        for line in block.splitlines():
            if line.startswith(":") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key] = value.removeprefix(" ")
        if "data" in fields:
            fields["data"] = json.loads(fields["data"])
            messages.append(fields)
    return messages


def finished(client, create) -> str:
    gid = create()
    client.post(f"/api/generators/{gid}/phases/text:customers/stop")
    client.post(f"/api/generators/{gid}/cancel")
    return gid


def test_after_zero_sends_every_event_then_ends(client, create):
    gid = finished(client, create)

    response = client.get(f"/api/generators/{gid}/events?after=0")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    assert response.headers["cache-control"] == "no-cache"
    messages = parse(response.text)
    events, end = messages[:-1], messages[-1]
    assert [m["id"] for m in events] == ["1", "2", "3"]
    assert [m["data"]["type"] for m in events] == ["Created", "StopRequested", "Cancelled"]
    assert events[1]["data"]["phase"] == "text:customers"
    assert events[1]["data"] == client.get(f"/api/generators/{gid}/history").json()[1]
    assert end["event"] == "end" and end["data"] == {"state": "cancelled", "version": 3}
    assert "retry: " in response.text


def test_a_new_client_of_a_finished_generator_gets_only_the_end(client, create):
    gid = finished(client, create)

    messages = parse(client.get(f"/api/generators/{gid}/events").text)

    assert messages == [{"event": "end", "data": {"state": "cancelled", "version": 3}}]


def test_last_event_id_resumes_after_that_version(client, create):
    gid = finished(client, create)

    response = client.get(f"/api/generators/{gid}/events", headers={"Last-Event-ID": "2"})

    messages = parse(response.text)
    assert [m.get("id") for m in messages] == ["3", None]
    assert messages[0]["data"]["type"] == "Cancelled"


def test_after_query_resumes_and_the_header_wins(client, create):
    gid = finished(client, create)

    by_query = parse(client.get(f"/api/generators/{gid}/events?after=1").text)
    both = parse(
        client.get(f"/api/generators/{gid}/events?after=1", headers={"Last-Event-ID": "3"}).text
    )

    assert [m.get("id") for m in by_query] == ["2", "3", None]
    assert [m.get("event") for m in both] == ["end"]


def test_a_prefix_works_for_the_stream(client, create):
    gid = finished(client, create)

    assert len(parse(client.get(f"/api/generators/{gid[:8]}/events?after=0").text)) == 4


def read_until(lines, predicate, timeout_s: float = 10.0) -> list[dict[str, Any]]:
    """Messages read from a live stream until one satisfies `predicate`."""
    deadline = time.monotonic() + timeout_s
    seen: list[dict[str, Any]] = []
    block: list[str] = []
    for line in lines:
        assert time.monotonic() < deadline, f"timed out; saw {seen}"
        if line:
            block.append(line)
            continue
        seen += parse("\n".join(block))
        block = []
        if seen and predicate(seen[-1]):
            return seen
    raise AssertionError(f"the stream ended early; saw {seen}")


def test_a_live_stream_delivers_only_new_events_stored_by_another_process(spec, tmp_path):
    store = f"sqlite:///{tmp_path / 'store.db'}"
    svc = build_service(store=store, data=str(tmp_path / "data"))
    cli = build_service(store=store, data=str(tmp_path / "data"))  # as `ffwd stop` would
    gid = svc.create_generator(spec)
    app = create_app(svc, api_token="", poll_s=0.05)

    with (
        BackgroundServer(app) as server,
        httpx.Client(base_url=server.url, timeout=10) as http,
        http.stream("GET", f"/api/generators/{gid}/events") as stream,
    ):
        # Its headers arrived, so its start is fixed: `Created`, stored before, is not sent.
        lines = stream.iter_lines()
        cli.start_phase(gid, "tabular", "w")
        stopper = threading.Timer(
            0.2, lambda: cli.request_stop(str(gid), "tabular", requested_by="cli")
        )
        stopper.start()
        live = read_until(lines, lambda m: m["data"]["type"] == "StopRequested")
        assert [m["data"]["type"] for m in live] == ["Started", "PhaseStarted", "StopRequested"]
        assert live[0]["id"] == "2"
        assert live[-1]["data"]["requested_by"] == "cli"
        assert live[-1]["id"] == str(svc.get_view(gid).version)

        http.post(f"/api/generators/{gid}/cancel")
        rest = read_until(lines, lambda m: m.get("event") == "end")
        assert [m["data"].get("type") for m in rest[:-1]] == ["Cancelled"]
        stopper.join()
    svc.store.close()
    cli.store.close()
