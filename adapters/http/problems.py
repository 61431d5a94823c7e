"""Errors as `application/problem+json` (RFC 9457), each with the contract's `code`."""

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Route

from ffwd.domain import errors

PROBLEM_JSON = "application/problem+json"

STATUS: dict[type[errors.FfwdError], int] = {
    errors.UnknownGenerator: 404,
    errors.UnknownPhase: 404,
    errors.AmbiguousId: 422,
    errors.InvalidSpec: 422,
    errors.InvalidQuery: 422,
    errors.PhaseAlreadyFinished: 409,
    errors.GeneratorAlreadyFinished: 409,
    errors.GeneratorCancelled: 409,
    errors.NotApplicable: 409,
    errors.ParentNotSucceeded: 409,
    errors.StaleRunner: 409,
    errors.Conflict: 409,
    errors.InvalidTransition: 409,
    errors.Unauthorized: 401,
    errors.InputNotAllowed: 403,
    errors.PayloadTooLarge: 413,
    errors.UnsupportedMediaType: 415,
    errors.StoreUnavailable: 503,
}

TITLES = {
    "unknown_generator": "Unknown generator",
    "unknown_phase": "Unknown phase",
    "ambiguous_id": "Ambiguous generator id",
    "invalid_spec": "Invalid spec",
    "invalid_query": "Invalid query",
    "phase_already_finished": "Phase already finished",
    "generator_already_finished": "Generator already finished",
    "generator_cancelled": "Generator cancelled",
    "not_applicable": "Not applicable",
    "parent_not_succeeded": "Parent generator not succeeded",
    "stale_runner": "Stale runner",
    "conflict": "Conflict",
    "invalid_transition": "Invalid transition",
    "unauthorized": "Unauthorized",
    "input_not_allowed": "Input not allowed",
    "payload_too_large": "Payload too large",
    "unsupported_media_type": "Unsupported media type",
    "store_unavailable": "Store unavailable",
    "host_not_allowed": "Host not allowed",
    "origin_not_allowed": "Origin not allowed",
}

# Errors that are not ffwd's own: unknown routes, wrong methods, a server fault.
_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    500: "internal_error",
}


def status_of(error: errors.FfwdError) -> int:
    for cls in type(error).__mro__:
        if cls in STATUS:
            return STATUS[cls]
    return 400


def problem(
    status: int,
    code: str,
    detail: str,
    *,
    title: str | None = None,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"urn:ffwd:problem:{code}",
        "title": title or TITLES.get(code) or HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
        "code": code,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _ffwd_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.FfwdError)
    status = status_of(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, errors.InvalidSpec):
        extra["problems"] = list(exc.problems)
    headers = {"WWW-Authenticate": 'Bearer realm="ffwd"'} if status == 401 else None
    return problem(
        status, exc.code, exc.message, instance=request.url.path, headers=headers, **extra
    )


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    """Request bodies are specs and spec overrides: their problems are a spec's; a list's
    query parameters are a query's."""
    assert isinstance(exc, RequestValidationError)
    found = exc.errors()
    problems = [
        f"{'.'.join(str(part) for part in err.get('loc', ())) or 'body'}: {err.get('msg')}"
        for err in found
    ]
    in_query = all(err.get("loc", ("",))[0] == "query" for err in found)
    return problem(
        422,
        "invalid_query" if found and in_query else "invalid_spec",
        "; ".join(problems),
        instance=request.url.path,
        problems=problems,
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if isinstance(exc.__cause__, RecursionError):  # FastAPI's JSON parsing of a deep body
        problems = ["body: nested too deeply"]
        return problem(
            422, "invalid_spec", problems[0], instance=request.url.path, problems=problems
        )
    code = _HTTP_CODES.get(exc.status_code, "http_error")
    detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    headers = getattr(exc, "headers", None)
    if exc.status_code == 405:
        headers = {"Allow": ", ".join(_allowed_methods(request))}
    return problem(exc.status_code, code, detail, instance=request.url.path, headers=headers)


def _allowed_methods(request: Request) -> list[str]:
    """Every method some route takes at this path (Starlette names only the first route's)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        if isinstance(route, Route) and route.matches(request.scope)[0] is not Match.NONE:
            methods |= route.methods or set()
    return sorted(methods)


def _server_error(request: Request, exc: Exception) -> JSONResponse:
    return problem(
        500, "internal_error", f"{type(exc).__name__}: the server failed", instance=request.url.path
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.FfwdError, _ffwd_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _server_error)


# OpenAPI: every problem an operation can answer, declared as what it is (problem+json).
PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string", "examples": ["urn:ffwd:problem:unknown_generator"]},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "instance": {"type": "string"},
        "problems": {"type": "array", "items": {"type": "string"}},
    },
}
_WHY = {
    400: "`host_not_allowed`: the Host is not one this server answers to",
    401: "`unauthorized`: the server has a token and the request does not carry it",
    403: "`origin_not_allowed` (a change from another site's page) or `input_not_allowed` "
    "(a table outside the server's input folders)",
    404: "`unknown_generator`, `unknown_phase`",
    409: "the generator's or phase's state does not allow it",
    413: "`payload_too_large`: the body is larger than 1 MiB",
    415: "`unsupported_media_type`: the body is not `application/json`",
    422: "`invalid_spec` (every problem listed) or `ambiguous_id`",
    503: "`store_unavailable`: the store cannot be read or written",
}
READS = (400, 401, 404, 422, 503)
CHANGES = (*READS, 403, 409, 413, 415)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for these problem statuses."""
    return {
        status: {
            "description": _WHY[status],
            "content": {PROBLEM_JSON: {"schema": PROBLEM_SCHEMA}},
        }
        for status in sorted(statuses)
    }
