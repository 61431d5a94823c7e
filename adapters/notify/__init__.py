"""Notification adapters: lifecycle notices as JSON log lines, signed webhooks, or a list in
memory, delivered from the stored event log with a durably tracked position (ADR 0014)."""

from ffwd.adapters.notify.config import NotifyConfig, load_config
from ffwd.adapters.notify.memory import InMemoryNotifier
from ffwd.adapters.notify.runtime import NotificationDelivery, start_delivery
from ffwd.adapters.notify.signing import InvalidSignature, verify_headers, verify_signature

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
