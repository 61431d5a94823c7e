"""Notification settings from a YAML file, JSON text, or FFWD_NOTIFY; every problem listed."""

import pytest

from ffwd.adapters.notify.config import LogEndpoint, WebhookEndpoint, load_config
from ffwd.adapters.notify.notices import DEFAULT_EVENTS
from ffwd.domain.errors import InvalidSpec

YAML = """
link_base: https://ffwd.example.com
endpoints:
  - name: ops
    kind: webhook
    url: https://hooks.example.com/ffwd
    secret_env: OPS_HOOK_SECRET
    events: [phase.*, generator.cancelled]
    from: earliest
  - name: audit
    kind: log
    path: notify.log
"""


def test_a_yaml_file_with_a_secret_from_the_environment(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("OPS_HOOK_SECRET", "s3cret")
    (tmp_path / "notify.yaml").write_text(YAML)
    config = load_config(str(tmp_path / "notify.yaml"))
    ops, audit = config.endpoints
    assert isinstance(ops, WebhookEndpoint) and isinstance(audit, LogEndpoint)
    assert (ops.secret, ops.start, ops.max_attempts) == ("s3cret", "earliest", 5)
    assert ops.events[-1] == "generator.cancelled" and "phase.progressed" in ops.events
    assert audit.events == list(DEFAULT_EVENTS) and audit.start == "latest"


def test_json_text_in_ffwd_notify(monkeypatch) -> None:
    monkeypatch.setenv(
        "FFWD_NOTIFY", '{"endpoints": [{"name": "a", "kind": "log", "events": ["*"]}]}'
    )
    assert load_config().endpoints[0].name == "a"


def test_every_problem_is_listed() -> None:
    with pytest.raises(InvalidSpec) as e:
        load_config(
            {
                "endpoints": [
                    {"name": "a", "kind": "webhook", "url": "ftp://x", "events": ["phase.x"]},
                    {"name": "b", "kind": "log", "bogus": 1},
                ]
            }
        )
    text = "\n".join(e.value.problems)
    for expected in ("webhook.url", "phase.x", "log.bogus"):
        assert expected in text, text
    with pytest.raises(InvalidSpec, match="needs a secret"):
        load_config({"endpoints": [{"name": "a", "kind": "webhook", "url": "http://x"}]})


def test_a_lease_shorter_than_an_attempt_is_refused() -> None:
    endpoint = {"name": "a", "kind": "webhook", "url": "http://x", "secret": "s"}
    with pytest.raises(InvalidSpec, match="lease_s"):
        load_config({"endpoints": [{**endpoint, "timeout_s": 20}], "lease_s": 30})


def test_no_configuration_at_all(monkeypatch) -> None:
    monkeypatch.delenv("FFWD_NOTIFY", raising=False)
    with pytest.raises(InvalidSpec, match="FFWD_NOTIFY"):
        load_config()
    with pytest.raises(InvalidSpec, match="no such file"):
        load_config("missing.yaml")
