"""The web pages: the generator list, the generator view (the Model Training panel), and the
generator's output files. Templates and static files ship inside this package; nothing is
fetched from elsewhere at run time."""

import html
import re
from importlib import resources
from pathlib import Path
from uuid import UUID

from fastapi import FastAPI
from fastapi.responses import FileResponse, HTMLResponse
from fastapi.staticfiles import StaticFiles

from ffwd.adapters.http.problems import problem
from ffwd.application.service import GeneratorService
from ffwd.domain.errors import AmbiguousId, UnknownGenerator

ASSETS = "7"  # bump to make browsers fetch changed static files
_HERE = resources.files("ffwd.adapters.http")
# Output files are data from the user's tables: shown, never allowed to run scripts.
_FILE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:",
    "X-Content-Type-Options": "nosniff",
}


def template(name: str) -> str:
    return (_HERE / "templates" / name).read_text(encoding="utf-8")


def script_json(payload: str) -> str:
    """JSON safe inside `<script type="application/json">`: no `<`, `>` or `&` in it."""
    return payload.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def render(text: str, **values: str) -> str:
    """The template with each `{{key}}` replaced, in one pass: a value that itself reads
    `{{initial}}` (a generator's name) stays as it is."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), text)


def outputs_folder(root: Path, generator_id: UUID) -> Path:
    """The folder `FileWorkspace` writes a generator's outputs to: `{data}/outputs/{id}`."""
    return (root / "outputs" / str(generator_id)).resolve()


def output_file(root: Path | None, generator_id: UUID, relative: str) -> Path | None:
    """The file at `relative` inside the generator's output folder, or None: nothing outside
    that folder is ever served (no `..`, no absolute paths, no symlinks out of it)."""
    if root is None or not relative or "\x00" in relative:
        return None
    folder = outputs_folder(root, generator_id)
    try:
        target = (folder / relative).resolve()
    except (OSError, ValueError):
        return None
    if not target.is_relative_to(folder) or not target.is_file():
        return None
    return target


def install(
    app: FastAPI, svc: GeneratorService, root: Path | None, *, token_needed: bool = False
) -> None:
    """The pages. With a token, they hold no data: the page reads it through the API with
    the token it asks for, and the page of an unknown id looks like any other."""
    app.mount("/static", StaticFiles(packages=[("ffwd.adapters.http", "static")]), name="static")
    index_page, generator_page, missing_page = (
        template("index.html"),
        template("generator.html"),
        template("not_found.html"),
    )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index() -> HTMLResponse:
        """The list's frame: its script reads each page from the API (with the token)."""
        return HTMLResponse(render(index_page, assets=ASSETS))

    @app.get("/generators/{generator}", response_class=HTMLResponse, include_in_schema=False)
    def generator_view(generator: str) -> HTMLResponse:
        if token_needed:
            page = render(
                generator_page,
                title="Generator",
                gid=html.escape(generator),
                initial="null",
                assets=ASSETS,
            )
            return HTMLResponse(page)
        try:
            view = svc.get_view(generator)
        except (UnknownGenerator, AmbiguousId) as e:
            page = render(missing_page, detail=html.escape(e.message), assets=ASSETS)
            return HTMLResponse(page, status_code=404 if e.code == "unknown_generator" else 422)
        page = render(
            generator_page,
            title=html.escape(view.name),
            gid=str(view.id),
            initial=script_json(view.model_dump_json()),
            assets=ASSETS,
        )
        return HTMLResponse(page)

    @app.get("/generators/{generator}/files/{path:path}", include_in_schema=False)
    def generator_file(generator: str, path: str):  # a file, or a problem
        generator_id = svc.get_generator(generator).id  # 404 problem when unknown
        target = output_file(root, generator_id, path)
        if target is None:
            return problem(404, "not_found", f"no output file {path!r} of this generator")
        headers = dict(_FILE_HEADERS)
        if target.suffix.lower() == ".csv":
            return FileResponse(
                target, media_type="text/csv", filename=target.name, headers=headers
            )
        return FileResponse(target, headers=headers)
