"""Notification settings: a YAML or JSON file, or the same text in `FFWD_NOTIFY`."""

import json
import os
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ffwd.adapters.notify.notices import DEFAULT_EVENTS, matching
from ffwd.domain.errors import InvalidSpec

ENV_VAR = "FFWD_NOTIFY"


class _Endpoint(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]{1,60}$")
    events: list[str] = Field(default_factory=lambda: list(DEFAULT_EVENTS))
    max_attempts: int = Field(default=5, ge=1, le=50)
    backoff_s: float = Field(default=0.5, gt=0)
    max_backoff_s: float = Field(default=30.0, gt=0)
    start: Literal["latest", "earliest"] = Field(default="latest", alias="from")

    @field_validator("events")
    @classmethod
    def _known_events(cls, patterns: list[str]) -> list[str]:
        return list(matching(patterns))


class WebhookEndpoint(_Endpoint):
    kind: Literal["webhook"] = "webhook"
    url: str = Field(pattern=r"^https?://")
    secret: str | None = None
    secret_env: str | None = None
    timeout_s: float = Field(default=5.0, gt=0, le=120)

    @model_validator(mode="after")
    def _one_secret(self) -> "WebhookEndpoint":
        if self.secret_env and not self.secret:
            value = os.environ.get(self.secret_env)
            if not value:
                raise ValueError(f"secret_env: environment variable {self.secret_env} is not set")
            self.secret = value
        if not self.secret:
            raise ValueError("a webhook needs a secret (secret, or secret_env naming a variable)")
        return self


class LogEndpoint(_Endpoint):
    kind: Literal["log"]
    path: str | None = None  # a file to append JSON lines to; default: standard error


Endpoint = Annotated[WebhookEndpoint | LogEndpoint, Field(discriminator="kind")]


class NotifyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoints: list[Endpoint] = Field(min_length=1)
    link_base: str | None = "http://127.0.0.1:8000"
    poll_s: float = Field(default=0.2, gt=0, le=60)
    lease_s: float = Field(default=30.0, gt=0)
    drain_s: float = Field(default=5.0, ge=0)

    @model_validator(mode="after")
    def _consistent(self) -> "NotifyConfig":
        names = [e.name for e in self.endpoints]
        if len(set(names)) != len(names):
            raise ValueError(f"endpoint names must be unique: {names}")
        for e in self.endpoints:
            if isinstance(e, WebhookEndpoint) and self.lease_s <= 2 * e.timeout_s:
                # The lease must outlive an attempt, or a second process takes the endpoint
                # over while the first is still waiting for an answer.
                raise ValueError(f"lease_s must exceed twice {e.name}'s timeout_s")
        return self


def load_config(source: str | os.PathLike[str] | dict[str, Any] | None = None) -> NotifyConfig:
    """Settings from a dict, a file path, YAML/JSON text, or (None) `FFWD_NOTIFY`;
    InvalidSpec listing every problem."""
    if source is None:
        source = os.environ.get(ENV_VAR)
        if not source:
            raise InvalidSpec([f"notify: no configuration (--notify CONFIG or {ENV_VAR})"])
    raw = source if isinstance(source, dict) else _read(str(source))
    try:
        return NotifyConfig.model_validate(raw)
    except ValidationError as e:
        raise InvalidSpec(
            [f"notify.{'.'.join(map(str, err['loc']))}: {err['msg']}" for err in e.errors()]
        ) from None


def _read(source: str) -> Any:
    text = source
    if not source.lstrip().startswith(("{", "endpoints")) and "\n" not in source:
        path = Path(source).expanduser()
        if not path.is_file():
            raise InvalidSpec([f"notify: no such file {source}"])
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text) if text.lstrip().startswith("{") else yaml.safe_load(text)
    except (ValueError, yaml.YAMLError) as e:
        raise InvalidSpec([f"notify: not valid JSON or YAML: {e}"]) from None
