"""`ffwd notify test|run|status` and `--notify` on `worker`, through the real command line."""

import json
import subprocess
import sys

from typer.testing import CliRunner

from ffwd.adapters.cli.app import app
from ffwd.adapters.notify.notices import SAMPLE_GENERATOR
from ffwd.domain.errors import InvalidSpec
from tests.integration.notify.conftest import SECRET, stopped_then_failed, webhook

runner = CliRunner()


def test_notify_test_sends_a_signed_sample_and_prints_the_answer(receiver):
    result = runner.invoke(app, ["notify", "test", receiver.url, "--secret", SECRET])
    assert result.exit_code == 0, result.output
    (request,) = receiver.requests
    assert request.verified and request.json["type"] == "phase.succeeded"
    assert request.json["generator_id"] == SAMPLE_GENERATOR
    assert "-> 200 OK" in result.output
    assert f'"received": "{SAMPLE_GENERATOR}:5"' in result.output
    assert f"X-Ffwd-Signature: {request.headers['X-Ffwd-Signature']}" in result.output


def test_notify_test_exits_1_on_a_refusal(receiver):
    receiver.answer(503)
    result = runner.invoke(app, ["notify", "test", receiver.url])
    assert result.exit_code == 1
    assert "-> 503" in result.output and "X-Ffwd-Signature: (unsigned)" in result.output
    assert receiver.requests[0].verified is False


def test_notify_test_exits_1_when_nobody_answers(receiver):
    receiver.close()
    result = runner.invoke(app, ["notify", "test", receiver.url, "--secret", SECRET])
    assert result.exit_code == 1
    assert "error: no answer from" in result.stderr


def delivered_once_with_a_dead_letter(svc, store_url, sample_spec, receiver, tmp_path):
    """A generator's notices delivered by `ffwd notify run --once` while the endpoint refused
    the first one: the arguments naming that config and store."""
    config = tmp_path / "notify.yaml"
    config.write_text(json.dumps(webhook(receiver.url, events=["phase.*", "generator.failed"])))
    receiver.answer(500, 500, 500)  # the first notice is dead-lettered
    stopped_then_failed(svc, sample_spec)
    args = ["--notify", str(config), "--store", store_url]
    ran = runner.invoke(app, ["notify", "run", "--once", *args])
    assert ran.exit_code == 0, ran.output
    return args


def test_notify_run_once_then_status(svc, store_url, sample_spec, receiver, tmp_path):
    args = delivered_once_with_a_dead_letter(svc, store_url, sample_spec, receiver, tmp_path)
    shown = runner.invoke(app, ["notify", "status", "--json", *args])
    assert shown.exit_code == 0, shown.output
    (row,) = json.loads(shown.stdout)
    assert (row["endpoint"], row["state"], row["pending"]) == ("hook", "ok", 0)
    assert (row["delivered"], row["dead_lettered"]) == (6, 1)
    assert row["dead_letters"][0]["type"] == "phase.started"
    table = runner.invoke(app, ["notify", "status", *args])
    assert "hook" in table.stdout and "dead letter" in table.stdout


def test_notify_redeliver_sends_dead_letters_again(svc, store_url, sample_spec, receiver, tmp_path):
    args = delivered_once_with_a_dead_letter(svc, store_url, sample_spec, receiver, tmp_path)
    dead_key = receiver.wait_for(3)[0].key

    receiver.answer(500, 500, 500)  # still down: the letter stays
    again = runner.invoke(app, ["notify", "redeliver", *args])
    assert again.exit_code == 1 and "0 redelivered, 1 still dead letters" in again.stdout
    sent = runner.invoke(app, ["notify", "redeliver", "--endpoint", "hook", *args])
    assert sent.exit_code == 0, sent.output
    assert "1 redelivered, 0 still dead letters" in sent.stdout
    last = receiver.requests[-1]
    assert (last.key, last.verified) == (dead_key, True)

    (row,) = json.loads(runner.invoke(app, ["notify", "status", "--json", *args]).stdout)
    assert (row["state"], row["delivered"], row["dead_lettered"]) == ("ok", 7, 0)
    assert row["dead_letters"] == []
    nothing = runner.invoke(app, ["notify", "redeliver", *args])
    assert nothing.exit_code == 0 and "0 redelivered, 0 still dead letters" in nothing.stdout
    unknown = runner.invoke(app, ["notify", "redeliver", "--endpoint", "nope", *args])
    assert isinstance(unknown.exception, InvalidSpec)


def test_worker_with_notify_delivers_a_whole_run(svc, store_url, sample_spec, receiver, tmp_path):
    config = tmp_path / "notify.json"
    config.write_text(json.dumps(webhook(receiver.url, events=["phase.*", "generator.*"])))
    sample_spec["training"] = {"max_epochs": 1}
    gid = str(svc.create_generator(sample_spec))
    data = str(tmp_path / "data")
    args = ["worker", "--once", "--store", store_url, "--data", data, "--notify", str(config)]
    # A process of its own, as workers run: the worker installs signal handlers.
    done = subprocess.run(
        [sys.executable, "-m", "ffwd", *args], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    types = [r.json["type"] for r in receiver.requests if r.json["generator_id"] == gid]
    assert types[:2] == ["generator.created", "generator.started"]
    assert types[-1] == "generator.succeeded"
    assert types.index("phase.succeeded") > types.index("phase.started")
    assert len(receiver.requests) == len(set(receiver.keys()))


def test_run_with_notify_delivers_up_to_the_end_of_the_run(
    store_url, sample_spec, receiver, tmp_path
):
    config = tmp_path / "notify.json"
    config.write_text(json.dumps(webhook(receiver.url, events=["phase.*", "generator.*"])))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**sample_spec, "training": {"max_epochs": 1}}))
    args = ["run", str(spec), "--store", store_url, "--data", str(tmp_path / "data")]
    result = runner.invoke(app, [*args, "--notify", str(config)])
    assert result.exit_code == 0, result.output
    # Drained at exit: the last event of the run went out before the command returned.
    assert receiver.requests[-1].json["type"] == "generator.succeeded"


def test_run_with_a_hanging_endpoint_finishes_its_pipeline(
    svc, store_url, sample_spec, receiver, tmp_path
):
    receiver.answer(*["hang"] * 10)
    settings = webhook(receiver.url, events=["*"], timeout_s=30, lease_s=120, drain_s=0.5)
    config = tmp_path / "notify.json"
    config.write_text(json.dumps(settings))
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps({**sample_spec, "training": {"max_epochs": 1}}))
    args = ["run", str(spec), "--store", store_url, "--data", str(tmp_path / "data")]
    result = runner.invoke(app, [*args, "--notify", str(config)])
    assert result.exit_code == 0, result.output
    (request,) = receiver.requests  # still hanging on the first notice
    assert request.json["type"] == "generator.created"
    (summary,) = svc.list_generators().items
    assert summary.state == "succeeded"  # the whole pipeline ran meanwhile
    receiver.release()
