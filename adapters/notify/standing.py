"""Where one endpoint's delivery stands: its position, counters and dead letters."""

from dataclasses import dataclass
from typing import Protocol


def tracking_name(endpoint: str) -> str:
    return f"ffwd.notify:{endpoint}"


@dataclass(frozen=True)
class DeadLetter:
    """A notice given up on after its bounded attempts; delivery moved on past it."""

    endpoint: str
    notification_id: int
    key: str
    type: str
    attempts: int
    error: str
    recorded_at: float = 0.0


@dataclass(frozen=True)
class EndpointRecord:
    """One endpoint's durable standing, for `ffwd notify status`."""

    endpoint: str
    position: int | None
    delivered: int = 0
    dead_lettered: int = 0
    last_delivered_id: int | None = None
    last_dead_id: int | None = None
    last_error: str | None = None
    owner: str | None = None
    lease_until: float | None = None
    updated_at: float | None = None

    @property
    def failing(self) -> bool:
        """The latest notice it was sent was dead-lettered."""
        return self.last_dead_id is not None and (self.last_delivered_id or 0) < self.last_dead_id


class DeliveryRecorder(Protocol):
    def acquire(self, endpoint: str, owner: str, lease_s: float) -> bool:
        """Take or renew the endpoint's lease; False while another owner holds it."""

    def release(self, endpoint: str, owner: str) -> None: ...

    def position(self, endpoint: str) -> int | None:
        """The last notification id the endpoint is done with; None before its first start."""

    def begin_at(self, endpoint: str, notification_id: int) -> None:
        """Set the first position, unless there already is one."""

    def delivered(self, endpoint: str, notification_id: int) -> None:
        """The notice was taken: move the position there (never backwards)."""

    def dead_lettered(self, letter: DeadLetter) -> None:
        """Record the letter and move the position past it, in one transaction."""

    def redelivered(self, endpoint: str, notification_id: int) -> bool:
        """A dead letter went out after all: it leaves the dead letters and counts as
        delivered. False when it was no longer a dead letter (redelivered elsewhere)."""

    def record(self, endpoint: str) -> EndpointRecord: ...

    def dead_letters(self, endpoint: str, limit: int = 20) -> list[DeadLetter]: ...
