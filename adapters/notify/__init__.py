"""Notification adapters: lifecycle notices as JSON log lines, signed webhooks, or a list in
memory, delivered from the stored event log with a durably tracked position (ADR 0014)."""

from adapters.notify.config import NotifyConfig, load_config
from adapters.notify.memory import InMemoryNotifier
from adapters.notify.runtime import NotificationDelivery, start_delivery
from adapters.notify.signing import InvalidSignature, verify_headers, verify_signature

__all__ = [
    "InMemoryNotifier",
    "InvalidSignature",
    "NotificationDelivery",
    "NotifyConfig",
    "load_config",
    "start_delivery",
    "verify_headers",
    "verify_signature",
]
