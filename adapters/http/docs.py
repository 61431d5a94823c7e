"""`/docs`: the OpenAPI description as a page served by the app itself.

FastAPI's own Swagger UI and ReDoc pages load their scripts from a CDN, which a closed
network cannot reach: this page is rendered on the server from `app.openapi()`, with
nothing fetched from elsewhere. The machine-readable description stays at `/openapi.json`.
"""

import html
import json
from typing import Any

from fastapi import FastAPI
from fastapi.responses import HTMLResponse

_METHODS = ("get", "post", "put", "patch", "delete")


def _e(value: Any) -> str:
    return html.escape(str(value))


def _parameters(op: dict[str, Any]) -> str:
    params = op.get("parameters") or []
    if not params:
        return ""
    rows = "".join(
        f"<tr><td><code>{_e(p['name'])}</code></td><td>{_e(p.get('in', ''))}</td>"
        f"<td>{'yes' if p.get('required') else 'no'}</td>"
        f"<td>{_e(p.get('description', ''))}</td></tr>"
        for p in params
    )
    return (
        "<table><thead><tr><th>Parameter</th><th>In</th><th>Required</th><th>About</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
    )


def _body(op: dict[str, Any]) -> str:
    content = (op.get("requestBody") or {}).get("content") or {}
    for media, spec in content.items():
        schema = spec.get("schema") or {}
        examples = schema.get("examples") or []
        example = json.dumps(examples[0], indent=2) if examples else ""
        block = f"<pre><code>{_e(example)}</code></pre>" if example else ""
        return f"<p class='hint'>Body: <code>{_e(media)}</code></p>{block}"
    return ""


def _responses(op: dict[str, Any]) -> str:
    items = "".join(
        f"<li><code>{_e(status)}</code> {_e(r.get('description', ''))}</li>"
        for status, r in (op.get("responses") or {}).items()
    )
    return f"<ul class='responses'>{items}</ul>"


def render_docs(spec: dict[str, Any]) -> str:
    info = spec.get("info", {})
    sections = []
    for path, operations in spec.get("paths", {}).items():
        for method in _METHODS:
            op = operations.get(method)
            if op is None:
                continue
            sections.append(
                f"<section class='card op'><h2><span class='badge method-{method}'>"
                f"{method.upper()}</span> <code>{_e(path)}</code></h2>"
                f"<p><strong>{_e(op.get('summary', ''))}</strong></p>"
                f"<p class='hint'>{_e(op.get('description', ''))}</p>"
                f"{_parameters(op)}{_body(op)}{_responses(op)}</section>"
            )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>API · ffwd</title><link rel="icon" href="data:,">
<link rel="stylesheet" href="/static/ffwd.css"></head>
<body><header class="topbar"><a class="brand" href="/">ffwd</a>
<nav aria-label="Main"><a href="/">Generators</a> <a href="/docs" aria-current="page">API</a></nav>
</header><main id="main" class="page">
<h1>{_e(info.get("title", "API"))} API <span class="badge">{_e(info.get("version", ""))}</span></h1>
<p class="lead">{_e(info.get("summary", ""))} Errors are <code>application/problem+json</code>
with a <code>code</code>. When the server has <code>FFWD_API_TOKEN</code>, every request
under <code>/api/</code> needs <code>Authorization: Bearer &lt;token&gt;</code>. The OpenAPI
description:
<a href="/openapi.json">/openapi.json</a>.</p>
{"".join(sections)}
</main></body></html>"""


def install(app: FastAPI) -> None:
    @app.get("/docs", response_class=HTMLResponse, include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(render_docs(app.openapi()))
