"""Delivery to every configured endpoint for a process's lifetime: `start_delivery`."""

import os
import time
from types import TracebackType
from typing import Any

from ffwd.adapters.notify.config import LogEndpoint, NotifyConfig, WebhookEndpoint, load_config
from ffwd.adapters.notify.delivery import EndpointDelivery, LogSource, RetryPolicy
from ffwd.adapters.notify.logs import LogNotifier, reports
from ffwd.adapters.notify.recorder import DeadLetter, EndpointRecord, delivery_recorder
from ffwd.adapters.notify.webhook import WebhookNotifier
from ffwd.application.ports import Notifier


def notifier_for(endpoint: WebhookEndpoint | LogEndpoint) -> Notifier:
    events = tuple(endpoint.events)
    if isinstance(endpoint, WebhookEndpoint):
        assert endpoint.secret is not None  # the config insists on one
        return WebhookNotifier(
            endpoint.name, endpoint.url, endpoint.secret, events, endpoint.timeout_s
        )
    return LogNotifier(endpoint.name, events, endpoint.path)


def _policy(endpoint: WebhookEndpoint | LogEndpoint) -> RetryPolicy:
    return RetryPolicy(endpoint.max_attempts, endpoint.backoff_s, endpoint.max_backoff_s)


class NotificationDelivery:
    """Each endpoint delivered by its own thread, apart from every command: a slow or dead
    endpoint delays only its own notices. `stop()` drains for `drain_s`, then stops."""

    def __init__(self, store: Any, config: NotifyConfig) -> None:
        self.config = config
        self.store = store  # kept alive while delivering: its Application closes when collected
        self.recorder = delivery_recorder(store.app)
        source = LogSource(store.app, config.link_base)
        self.notifiers = [notifier_for(e) for e in config.endpoints]
        self.endpoints = [
            EndpointDelivery(
                notifier,
                source,
                self.recorder,
                types=endpoint.events,
                policy=_policy(endpoint),
                poll_s=config.poll_s,
                lease_s=config.lease_s,
                start=endpoint.start,
            )
            for notifier, endpoint in zip(self.notifiers, config.endpoints, strict=True)
        ]
        self.source = source
        self._started = False
        self._stopped: bool | None = None

    def start(self) -> "NotificationDelivery":
        """Start every endpoint's thread (once: a started delivery stays as it is)."""
        if self._started:
            return self
        self._started = True
        for endpoint in self.endpoints:
            endpoint.start()
        reports.info(
            "notify.started",
            endpoints=[e.name for e in self.endpoints],
            pid=os.getpid(),
        )
        return self

    def stop(self, drain_s: float | None = None) -> bool:
        """Stop every endpoint; True when all had delivered what was stored."""
        if self._stopped is not None:
            return self._stopped
        drain = self.config.drain_s if drain_s is None else drain_s
        deadline = time.monotonic() + drain  # endpoints drain side by side: one shared budget
        caught_up = all([e.stop(max(0.0, deadline - time.monotonic())) for e in self.endpoints])
        self.close()
        self._stopped = caught_up
        return caught_up

    def close(self) -> None:
        """Close the notifiers' connections (`stop` does, after the threads end)."""
        for notifier in self.notifiers:
            close = getattr(notifier, "close", None)
            if close:
                close()

    def redeliver(self, endpoint: str | None = None) -> dict[str, list[tuple[DeadLetter, Any]]]:
        """Every endpoint's dead letters (or one endpoint's) sent again, in this thread:
        each letter with None (delivered) or why it is still a dead letter."""
        chosen = [e for e in self.endpoints if endpoint in (None, e.name)]
        return {e.name: e.redeliver() for e in chosen}

    def status(self) -> list[EndpointRecord]:
        return [self.recorder.record(e.name) for e in self.endpoints]

    def dead_letters(self, endpoint: str, limit: int = 20) -> list[DeadLetter]:
        return self.recorder.dead_letters(endpoint, limit)

    def __enter__(self) -> "NotificationDelivery":
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_delivery(
    store: Any, config: NotifyConfig | str | dict[str, Any] | None = None
) -> NotificationDelivery:
    """Start delivering the store's lifecycle notices per `config` (a NotifyConfig, a file,
    YAML/JSON text, a dict, or None for `FFWD_NOTIFY`); call `.stop()` at the end.

    `store` is the EventSourcedStore the service writes to (`svc.store`), e.g. for
    `ffwd serve`: `delivery = start_delivery(svc.store, path)` ... `delivery.stop()`.
    """
    settings = config if isinstance(config, NotifyConfig) else load_config(config)
    return NotificationDelivery(store, settings).start()
