"""JSON log lines through structlog: the log notifier's output and delivery's own reports.

Loggers are built here with their own processors instead of `structlog.configure`, so an
embedding program's logging setup is neither changed nor needed.
"""

import sys
from typing import Any, TextIO

import structlog

from ffwd.adapters.notify.notices import payload
from ffwd.application.ports import DeliveryFailed, Notice


class _Stderr:
    """Standard error as it is at each write (tests and embedders may swap it)."""

    def write(self, text: str) -> int:
        return sys.stderr.write(text)

    def flush(self) -> None:
        sys.stderr.flush()


def json_logger(stream: TextIO | None = None, **context: Any) -> Any:
    """A structlog logger writing one JSON object per line: timestamp, level, event, context."""
    return structlog.wrap_logger(
        structlog.PrintLogger(stream or _Stderr()),  # type: ignore[arg-type]
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _leading,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
    ).bind(**context)


def _leading(_logger: Any, _method: str, record: dict[str, Any]) -> dict[str, Any]:
    """When, how bad and what first: easier to read and to grep."""
    first = {k: record.pop(k) for k in ("timestamp", "level", "event") if k in record}
    return {**first, **record}


# Delivery's own reports: attempts that failed, dead letters, endpoints failing and back.
reports = json_logger(logger="ffwd.notify")


class LogNotifier:
    """The Notifier port as structured log lines: one JSON object per notice."""

    def __init__(self, name: str, events: tuple[str, ...], path: str | None = None) -> None:
        self.name = name
        self.events = frozenset(events)
        self._file = open(path, "a", encoding="utf-8") if path else None  # noqa: SIM115
        self._log = json_logger(self._file, logger="ffwd.notify", endpoint=name)

    def wants(self, notice_type: str) -> bool:
        return notice_type in self.events

    def send(self, notice: Notice, attempt: int) -> None:
        try:
            self._log.info("ffwd.notification", attempt=attempt, notification=payload(notice))
        except OSError as e:  # a full disk or a closed pipe: worth another try later
            raise DeliveryFailed(f"cannot write the log line: {e}") from e

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
