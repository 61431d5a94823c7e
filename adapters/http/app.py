"""The HTTP API and the web page of ffwd: `create_app(svc)` builds the FastAPI application.

Every endpoint that touches the service is a plain `def`, so FastAPI runs it in its
threadpool: the synchronous service never blocks the event loop. Two are `async`: the event
stream, which too reads the store in the threadpool, and the view, which a page re-reads on
every event: it is answered on the loop when the store answers locally (a cached read of
~60 us, where the hop to the threadpool alone costs ~250 us here), else in the threadpool.
"""

import hmac
import json
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from ffwd.adapters.http import docs, events, pages, problems
from ffwd.adapters.http.runner import BackgroundRuns
from ffwd.application.service import GeneratorService
from ffwd.application.summaries import DEFAULT_LIMIT, MAX_LIMIT
from ffwd.application.views import GeneratorPage, GeneratorView, HistoryEntry
from ffwd.domain.errors import InvalidSpec, Unauthorized

TOKEN_ENV = "FFWD_API_TOKEN"
DEFAULT_REQUESTER = "http"
_MAX_REQUESTER = 100

SPEC_EXAMPLE = {
    "name": "customers-demo",
    "kind": "training",
    "tables": [{"name": "customers", "path": "customers.csv", "text_columns": ["bio"]}],
    "training": {"max_epochs": 50, "early_stopping_patience": 4},
    "synthesis": {"rows": {"customers": 1000}},
}

MUTATING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

_bearer = HTTPBearer(auto_error=False, description="Needed when FFWD_API_TOKEN is set.")


def _json(payload: str, status_code: int = 200) -> Response:
    return Response(payload, status_code=status_code, media_type="application/json")


def _view(view: GeneratorView, status_code: int = 200) -> Response:
    return _json(view.model_dump_json(), status_code)


def _models(items: list[Any]) -> Response:
    return _json("[" + ",".join(item.model_dump_json() for item in items) + "]")


def _json_body(body: Any) -> Any:
    """A body sent without a JSON content type arrives as bytes: parse it, or say why not."""
    if not isinstance(body, bytes | str):
        return body
    try:
        return json.loads(body)
    except ValueError as e:
        raise InvalidSpec([f"body: not valid JSON ({e})"]) from None


def requester(x_requested_by: Annotated[str | None, Header()] = None) -> str:
    """Who asked: the `X-Requested-By` header, or "http"."""
    who = (x_requested_by or "").strip()[:_MAX_REQUESTER]
    return who or DEFAULT_REQUESTER


def _token_route(token: str | None) -> type[APIRoute]:
    """API routes whose mutating requests need the token, checked before FastAPI reads the
    body: a dependency would run after the body was parsed, so a malformed body would be 422."""
    expected = token.encode() if token else None

    async def authorize(request: Request) -> None:
        if expected is None or request.method not in MUTATING:
            return
        credentials = await _bearer(request)
        given = credentials.credentials.encode() if credentials else b""
        if not hmac.compare_digest(given, expected):
            raise Unauthorized("this server needs `Authorization: Bearer <FFWD_API_TOKEN>`")

    class TokenRoute(APIRoute):
        def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
            handle = super().get_route_handler()

            async def authorized(request: Request) -> Response:
                await authorize(request)
                return await handle(request)

            return authorized

    return TokenRoute


def api_router(
    svc: GeneratorService,
    runs: BackgroundRuns | None,
    token: str | None,
    poll_s: float,
) -> APIRouter:
    router = APIRouter(
        prefix="/api/generators", tags=["generators"], route_class=_token_route(token)
    )
    mutating = [Depends(_bearer)]  # shows the bearer scheme in OpenAPI; TokenRoute checks it
    Who = Annotated[str, Depends(requester)]

    @router.post(
        "",
        status_code=201,
        dependencies=mutating,
        summary="Create a generator (queued)",
        responses={201: {"content": {"application/json": {"example": {"id": "5f0c..."}}}}},
    )
    def create_generator(
        spec: Annotated[Any, Body(examples=[SPEC_EXAMPLE])],
    ) -> dict[str, UUID]:
        """Table paths are resolved on the server, relative to its working directory."""
        gid = svc.create_generator(_json_body(spec), base_dir=Path.cwd())
        if runs:
            runs.start(gid)
        return {"id": gid}

    @router.get("", response_model=GeneratorPage, summary="Generators, newest first, a page")
    def list_generators(
        state: Annotated[str | None, Query(description="Only generators in this state")] = None,
        name: Annotated[
            str | None, Query(max_length=200, description="Only names containing this")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None, Query(max_length=40, description="`next` of the page before")
        ] = None,
    ) -> Response:
        page = svc.list_generators(state=state, name=name, limit=limit, after=cursor)
        return _json(page.model_dump_json())

    local = getattr(svc.store, "answers_locally", False)

    @router.get("/{generator}", response_model=GeneratorView, summary="The generator view")
    async def get_generator(generator: str) -> Response:
        """`generator`: the id or a unique prefix of 8+ characters."""
        if local:
            return _view(svc.get_view(generator))
        return _view(await run_in_threadpool(svc.get_view, generator))

    @router.post(
        "/{generator}/phases/{phase:path}/stop",
        status_code=202,
        response_model=GeneratorView,
        dependencies=mutating,
        summary="Stop one training phase (fast-forward), pending or running",
    )
    def stop_phase(generator: str, phase: str, who: Who) -> Response:
        """The phase ends at its next step boundary (or as soon as it begins, when it is
        still pending), keeps its checkpoint, and the pipeline goes on."""
        return _view(svc.request_stop(generator, phase, requested_by=who), 202)

    @router.post(
        "/{generator}/cancel",
        status_code=202,
        response_model=GeneratorView,
        dependencies=mutating,
        summary="Cancel the whole generator",
    )
    def cancel_generator(generator: str, who: Who) -> Response:
        return _view(svc.cancel(generator, requested_by=who), 202)

    @router.post(
        "/{generator}/continue",
        status_code=201,
        dependencies=mutating,
        summary="Continue training: a new generator from a succeeded one's checkpoints",
    )
    def continue_training(
        generator: str,
        overrides: Annotated[
            dict[str, Any] | None,
            Body(examples=[{"training": {"max_epochs": 100}}]),
        ] = None,
    ) -> dict[str, UUID]:
        child = svc.continue_training(generator, overrides)
        if runs:
            runs.start(child)
        return {"id": child}

    @router.get(
        "/{generator}/history", response_model=list[HistoryEntry], summary="The audit history"
    )
    def history(generator: str) -> Response:
        return _models(svc.history(generator))

    @router.get(
        "/{generator}/events",
        summary="Server-sent events: one message per new stored event",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}},
    )
    async def event_stream(
        generator: str,
        request: Request,
        after: Annotated[
            int | None,
            Query(ge=0, description="Resume after this version (default: the current one)"),
        ] = None,
    ) -> StreamingResponse:
        """The events stored after the client connected; `id:` is the event's version, and
        `Last-Event-ID` (or `?after=`) resumes after it: `?after=0` sends the whole history
        first. The stream ends with an `end` event once the generator is finished."""
        # Fails (404) before the stream starts: `resolve` alone accepts any well-formed UUID.
        found = await run_in_threadpool(svc.get_generator, generator)
        after = events.resume_point(request, after, found.version)
        body = events.stream(svc, found.id, after, request, poll_s=poll_s)
        return StreamingResponse(
            body,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )

    return router


def create_app(
    svc: GeneratorService,
    *,
    run_generators: bool = False,
    api_token: str | None = None,
    data: str | Path | None = None,
    poll_s: float = events.DEFAULT_POLL_S,
    progress_interval_s: float = 1.0,
) -> FastAPI:
    """The API (`/api/...`), the web pages (`/`, `/generators/{id}`) and OpenAPI (`/docs`).

    - `run_generators`: run generators created through the API in background threads.
    - `api_token`: the bearer token mutating requests need; None reads `FFWD_API_TOKEN`,
      "" means none.
    - `data`: the `--data` folder whose `outputs/{id}/` files the page links to (default:
      the service's workspace root).
    """
    token = os.environ.get(TOKEN_ENV) if api_token is None else api_token
    runs = BackgroundRuns(svc, progress_interval_s) if run_generators else None
    app = FastAPI(
        title="ffwd",
        summary="Stop, pre-queue, cancel and continue the training phases of generators.",
        version="0.1.0",
        docs_url=None,  # FastAPI's pages load their scripts from a CDN: see ffwd.adapters.http.docs
        redoc_url=None,
    )
    app.state.service = svc
    app.state.runs = runs
    problems.install(app)

    @app.get("/health", summary="Liveness: 200 while the server answers", tags=["server"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(api_router(svc, runs, token or None, poll_s))
    root = data if data is not None else getattr(svc.workspace, "root", None)
    pages.install(app, svc, Path(root) if root is not None else None)
    docs.install(app)
    return app
