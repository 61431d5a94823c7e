"""Assertions shared by the HTTP API tests."""

import warnings
from typing import Any

with warnings.catch_warnings():
    # Newer Starlette prefers the `httpx2` distribution; `httpx` works the same here.
    warnings.simplefilter("ignore")
    from fastapi import testclient

__all__ = ["TestClient", "assert_problem"]


class TestClient(testclient.TestClient):
    """FastAPI's test client, asking for `http://localhost` (a host the server answers to)."""

    __test__ = False

    def __init__(self, app: Any, base_url: str = "http://localhost", **options: Any) -> None:
        super().__init__(app, base_url=base_url, **options)


def assert_problem(response: Any, status: int, code: str) -> dict[str, Any]:
    """An `application/problem+json` answer with the contract's fields."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == status
    assert body["code"] == code
    assert body["type"] == f"urn:ffwd:problem:{code}"
    assert isinstance(body["title"], str) and body["title"]
    assert isinstance(body["detail"], str) and body["detail"]
    return body
