"""Browser tests: Debian's Chromium (never a downloaded browser) driven by Playwright, against
a real uvicorn server on loopback with an SQLite store in a temp folder, which runs the
generators created through its API.

These tests FAIL, never skip, when Chromium is missing: `.ci/run` installs it.
"""

import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, Page, expect, sync_playwright

from ffwd.adapters.container import build_service
from ffwd.adapters.http import create_app
from ffwd.adapters.http.serve import BackgroundServer
from ffwd.application.service import GeneratorService
from tests.e2e.data import write_customers, write_orders

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
# What a page shows may wait for a loaded machine's server and training: assertions retry for
# this long (Playwright's 5 s by default), and pass as soon as the page shows it.
expect.set_options(timeout=15_000)
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TERMINAL = {"succeeded", "failed", "cancelled"}


@pytest.fixture(scope="session")
def chromium() -> str:
    path = shutil.which("chromium")
    if path is None:
        pytest.fail(
            "Debian's `chromium` is missing: `apt-get install -y chromium` (.ci/run installs "
            "it); the browser tests never download a browser and never skip.",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def web_tables(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("web-tables")
    write_customers(folder / "customers.csv")
    write_orders(folder / "orders.csv")
    return folder


@pytest.fixture
def long_spec(web_tables: Path) -> dict[str, Any]:
    """Phases tabular, text:customers, text:orders that train until stopped (or 120 s)."""
    return {
        "name": "customers-demo",
        "tables": [
            {
                "name": "customers",
                "path": str(web_tables / "customers.csv"),
                "text_columns": ["bio"],
            },
            {
                "name": "orders",
                "path": str(web_tables / "orders.csv"),
                "text_columns": ["review"],
            },
        ],
        "training": {
            "max_epochs": 100000,
            "early_stopping_patience": None,
            "max_training_time_s": 120,
            "batch_size": 32,
        },
        "synthesis": {"rows": {"customers": 50, "orders": 50}},
    }


class WebServer:
    """The server under test, its store and data folders, and a client of its API."""

    def __init__(self, root: Path, api_token: str, inputs: Path, workers: int) -> None:
        self.store = f"sqlite:///{root / 'store.db'}"
        self.data = str(root / "data")
        self.token = api_token
        self.svc: GeneratorService = build_service(store=self.store, data=self.data)
        self.app = create_app(
            self.svc,
            workers=workers,
            api_token=api_token,
            inputs=[inputs],
            progress_interval_s=0.2,
        )
        self.server = BackgroundServer(self.app).start()
        self.url = self.server.url
        headers = {"Authorization": f"Bearer {api_token}"} if api_token else {}
        self.http = httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def create(self, spec: dict[str, Any]) -> str:
        response = self.http.post("/api/generators", json=spec)
        assert response.status_code == 201, response.text
        return response.json()["id"]

    def view(self, gid: str) -> dict[str, Any]:
        return self.http.get(f"/api/generators/{gid}").json()

    def close(self) -> None:
        # Nothing keeps training after the test: cancel what is still live, then wait.
        for summary in self.http.get("/api/generators", params={"limit": 500}).json()["items"]:
            if summary["state"] not in TERMINAL:
                self.http.post(f"/api/generators/{summary['id']}/cancel")
        if self.app.state.runs:
            self.app.state.runs.wait_idle(60)
        self.http.close()
        self.server.stop()
        self.svc.store.close()


@pytest.fixture
def make_server(tmp_path: Path, web_tables: Path) -> Iterator[Callable[..., WebServer]]:
    """Servers whose input folder holds the web tables."""
    servers: list[WebServer] = []

    def make(api_token: str = "", workers: int = 3) -> WebServer:
        folder = tmp_path / f"server{len(servers)}"
        folder.mkdir()
        servers.append(WebServer(folder, api_token, web_tables, workers))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


@pytest.fixture
def web(make_server: Callable[..., WebServer]) -> WebServer:
    """A server that runs what is queued in its store (three parts at once)."""
    return make_server()


@pytest.fixture
def api_only(make_server: Callable[..., WebServer]) -> WebServer:
    """A server that runs nothing: the test drives the phases through the service."""
    return make_server(workers=0)


@pytest.fixture
def browser(chromium: str) -> Iterator[BrowserContext]:
    """A fresh headless Chromium profile per test."""
    with tempfile.TemporaryDirectory(prefix="ffwd-chromium-") as profile, sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            profile,
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 1000},
        )
        context.set_default_timeout(30_000)
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: BrowserContext) -> Iterator[Page]:
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    assert not errors, f"JavaScript errors on the page: {errors}"
