"""Schemathesis (`st run --checks all`) against a real server on loopback, with and without a
token, finds nothing: every status the API answers is declared, as problem+json (issue 13).

Was: 13 failure classes (undeclared 404, 401 and 400 answers, problem+json declared as
application/json, a `null` body rejected that the schema allows).
"""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from ffwd.adapters.container import build_service
from ffwd.adapters.http import create_app
from ffwd.adapters.http.serve import BackgroundServer

CONFIG = Path(__file__).with_name("schemathesis.toml")
EXAMPLES = 25  # per operation and phase: bounded, so the run takes seconds, not minutes
ST = Path(sys.executable).with_name("st")


@pytest.mark.slow
@pytest.mark.parametrize("token", ["", "schema-token"], ids=["no token", "token"])
def test_schemathesis_finds_nothing(tmp_path, token):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    # The table the OpenAPI example names, so that the example is accepted.
    (inputs / "customers.csv").write_text("id,bio\n1,likes long walks\n2,reads old maps\n")
    svc = build_service(store="memory://", data=str(tmp_path / "data"))
    app = create_app(svc, api_token=token, inputs=[inputs])
    auth = ["-H", f"Authorization: Bearer {token}"] if token else []
    try:
        with BackgroundServer(app) as server:
            command = [str(ST), "--config-file", str(CONFIG), "run", server.url + "/openapi.json"]
            options = ["--checks", "all", "--max-examples", str(EXAMPLES), "--seed", "13"]
            run = subprocess.run(
                [*command, *options, "--workers", "1", *auth],
                capture_output=True,
                text=True,
                timeout=600,
                cwd=tmp_path,
            )
    finally:
        svc.store.close()
    assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
    tested = re.search(r"(\d+) generated, \1 passed", run.stdout)
    assert tested and int(tested.group(1)) > 100, run.stdout[-2000:]
