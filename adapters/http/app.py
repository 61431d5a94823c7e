"""The HTTP API and the web page of ffwd: `create_app(svc)` builds the FastAPI application.

Every endpoint that touches the service is a plain `def`, so FastAPI runs it in its
threadpool: the synchronous service never blocks the event loop. Two are `async`: the event
stream, which too reads the store in the threadpool, and the view, which a page re-reads on
every event: it is answered on the loop when the store answers locally (a cached read of
~60 us, where the hop to the threadpool alone costs ~250 us here), else in the threadpool.
"""

import os
from collections.abc import AsyncIterator, Collection, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Body, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from ffwd import __version__
from ffwd.adapters.http import docs, events, pages, problems
from ffwd.adapters.http.guard import LOOPBACK_NAMES, RequestGuard
from ffwd.adapters.http.runner import ServerWorkers
from ffwd.application.inputs import InputFolders
from ffwd.application.lists import CURSOR_PATTERN, ListState
from ffwd.application.service import GeneratorService
from ffwd.application.spec import GeneratorSpec
from ffwd.application.summaries import DEFAULT_LIMIT, MAX_LIMIT
from ffwd.application.views import GeneratorPage, GeneratorView, HistoryEntry, MetricRow
from ffwd.domain.errors import InvalidSpec

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

# Shows the bearer scheme in OpenAPI when the server has a token; the RequestGuard checks it.
_bearer = HTTPBearer(auto_error=False, description="The server's FFWD_API_TOKEN.")
_SCHEMAS = "#/components/schemas/{model}"


def _json(payload: str, status_code: int = 200) -> Response:
    return Response(payload, status_code=status_code, media_type="application/json")


def _view(view: GeneratorView, status_code: int = 200) -> Response:
    return _json(view.model_dump_json(), status_code)


def _models(items: list[Any]) -> Response:
    return _json("[" + ",".join(item.model_dump_json() for item in items) + "]")


def requester(x_requested_by: Annotated[str | None, Header()] = None) -> str:
    """Who asked: the `X-Requested-By` header (printable characters only), or "http"."""
    who = "".join(c for c in (x_requested_by or "")[:_MAX_REQUESTER] if c.isprintable())
    return who.strip() or DEFAULT_REQUESTER


def _body(schema: dict[str, Any]) -> dict[str, Any]:
    """OpenAPI for a JSON body that the endpoint takes as it is and validates itself."""
    return {"requestBody": {"content": {"application/json": {"schema": schema}}}}


def _with_spec_schemas(app: FastAPI) -> None:
    """`/openapi.json` with the spec's models beside the views': the create body names them."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            spec = GeneratorSpec.model_json_schema(ref_template=_SCHEMAS)
            models = schema.setdefault("components", {}).setdefault("schemas", {})
            models.update(spec.pop("$defs", {}), GeneratorSpec=spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def api_router(
    svc: GeneratorService,
    inputs: InputFolders,
    poll_s: float,
    token_needed: bool,
) -> APIRouter:
    router = APIRouter(
        prefix="/api/generators",
        tags=["generators"],
        dependencies=[Depends(_bearer)] if token_needed else [],
    )
    changes, reads = problems.responses(*problems.CHANGES), problems.responses(*problems.READS)
    Who = Annotated[str, Depends(requester)]

    @router.post(
        "",
        status_code=201,
        summary="Create a generator (queued)",
        responses={
            201: {"content": {"application/json": {"example": {"id": "5f0c..."}}}},
            **changes,
        },
        openapi_extra=_body({"$ref": _SCHEMAS.format(model="GeneratorSpec")}),
    )
    def create_generator(
        spec: Annotated[Any, Body(examples=[SPEC_EXAMPLE])],
    ) -> dict[str, UUID]:
        """Table paths name files in the server's input folders (`ffwd serve --inputs`),
        relative to the first; any other file is refused (403 `input_not_allowed`)."""
        return {"id": svc.create_generator(spec, inputs=inputs)}

    @router.get(
        "",
        response_model=GeneratorPage,
        summary="Generators, newest first, a page",
        responses=problems.responses(400, 401, 422, 503),
    )
    def list_generators(
        state: Annotated[
            ListState | None, Query(description="Only generators in this state")
        ] = None,
        name: Annotated[
            str | None, Query(max_length=200, description="Only names containing this")
        ] = None,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
        cursor: Annotated[
            str | None, Query(pattern=CURSOR_PATTERN, description="`next` of the page before")
        ] = None,
        parent: Annotated[
            UUID | None, Query(description="Only the generators that continue this one")
        ] = None,
    ) -> Response:
        page = svc.list_generators(state=state, name=name, limit=limit, after=cursor, parent=parent)
        return _json(page.model_dump_json())

    local = getattr(svc.store, "answers_locally", False)

    @router.get(
        "/{generator}",
        response_model=GeneratorView,
        summary="The generator view",
        responses=reads,
    )
    async def get_generator(generator: str) -> Response:
        """`generator`: the id or a unique prefix of 8+ characters."""
        if local:
            return _view(svc.get_view(generator))
        return _view(await run_in_threadpool(svc.get_view, generator))

    @router.post(
        "/{generator}/phases/{phase:path}/stop",
        status_code=202,
        response_model=GeneratorView,
        summary="Stop one training phase (fast-forward), pending or running",
        responses=changes,
    )
    def stop_phase(generator: str, phase: str, who: Who) -> Response:
        """The phase ends at its next step boundary (or as soon as it begins, when it is
        still pending), keeps its checkpoint, and the pipeline goes on."""
        return _view(svc.request_stop(generator, phase, requested_by=who), 202)

    @router.post(
        "/{generator}/cancel",
        status_code=202,
        response_model=GeneratorView,
        summary="Cancel the whole generator",
        responses=changes,
    )
    def cancel_generator(generator: str, who: Who) -> Response:
        return _view(svc.cancel(generator, requested_by=who), 202)

    @router.post(
        "/{generator}/continue",
        status_code=201,
        summary="Continue training: a new generator from a succeeded one's checkpoints",
        responses=changes,
    )
    def continue_training(
        generator: str,
        body: Annotated[
            dict[str, Any] | None,
            Body(examples=[{"more_epochs": 20}, {"training": {"max_epochs": 100}}]),
        ] = None,
    ) -> dict[str, UUID]:
        """`more_epochs`: each phase trains that many epochs beyond its kept checkpoint (by
        default as many more as the parent's limit); the other keys override the parent's
        spec (`training.max_epochs` then is each phase's total)."""
        overrides = dict(body or {})
        more = overrides.pop("more_epochs", None)
        if more is not None and (type(more) is not int or more < 1):
            raise InvalidSpec(["more_epochs: a whole number of epochs, at least 1"])
        child = svc.continue_training(generator, overrides or None, more_epochs=more, inputs=inputs)
        return {"id": child}

    @router.get(
        "/{generator}/phases/{phase:path}/metrics",
        response_model=list[MetricRow],
        summary="The learning curve of one phase: a row per completed epoch, in order",
        responses=reads,
    )
    def metrics(generator: str, phase: str) -> Response:
        """Every epoch (not sampled): `epoch`, `step`, `elapsed_s`, `val_loss`, `train_loss`,
        `epsilon`; a continued phase begins with its parent's rows up to its checkpoint."""
        return _models(svc.metrics(generator, phase))

    @router.get(
        "/{generator}/history",
        response_model=list[HistoryEntry],
        summary="The audit history",
        responses=reads,
    )
    def history(generator: str) -> Response:
        return _models(svc.history(generator))

    @router.get(
        "/{generator}/events",
        summary="Server-sent events: one message per new stored event",
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}}, **reads},
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
    workers: int = 0,
    api_token: str | None = None,
    data: str | Path | None = None,
    inputs: Sequence[str | Path] | None = None,
    max_table_bytes: int | None = None,
    allowed_hosts: Collection[str] = LOOPBACK_NAMES,
    poll_s: float = events.DEFAULT_POLL_S,
    progress_interval_s: float = 1.0,
) -> FastAPI:
    """The API (`/api/...`), the web pages (`/`, `/generators/{id}`) and OpenAPI (`/docs`).

    - `workers`: run queued generators of the store here, at most this many parts at once,
      while the app runs (its lifespan); 0: the API only.
    - `api_token`: the bearer token every API request and output file needs; None reads
      `FFWD_API_TOKEN`, "" means none.
    - `data`: the `--data` folder whose `outputs/{id}/` files the page links to (default:
      the service's workspace root).
    - `inputs`: the only folders a spec's tables may be in (default `{data}/inputs`);
      `max_table_bytes` bounds each table file.
    - `allowed_hosts`: the names the server answers to in `Host` ("*": any).
    """
    token = (os.environ.get(TOKEN_ENV) if api_token is None else api_token) or None
    runs = ServerWorkers(svc, workers, progress_interval_s=progress_interval_s) if workers else None
    root = data if data is not None else getattr(svc.workspace, "root", None)
    root = Path(root) if root is not None else None
    if inputs is None:
        inputs = [root / "inputs"] if root is not None else []

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if runs:
            runs.start()
        try:
            yield
        finally:
            if runs:
                await run_in_threadpool(runs.stop)

    app = FastAPI(
        lifespan=lifespan,
        title="ffwd",
        summary="Stop, pre-queue, cancel and continue the training phases of generators.",
        version=__version__,
        docs_url=None,  # FastAPI's pages load their scripts from a CDN: see ffwd.adapters.http.docs
        redoc_url=None,
    )
    app.state.service = svc
    app.state.runs = runs
    problems.install(app)
    app.add_middleware(RequestGuard, allowed_hosts=allowed_hosts, token=token)

    @app.get("/health", summary="Liveness: 200 while the server answers", tags=["server"])
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    folders = InputFolders.of(inputs, max_table_bytes)
    app.include_router(api_router(svc, folders, poll_s, token is not None))
    _with_spec_schemas(app)
    pages.install(app, svc, root, token_needed=token is not None)
    docs.install(app)
    return app
