"""The plain state a generator holds for each training phase and pipeline step."""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ffwd.domain.states import PENDING

TABULAR = "tabular"
TEXT = "text"


def text_phase_id(table: str) -> str:
    return f"{TEXT}:{table}"


def renew_lease(part: "Phase | Step", when: datetime) -> None:
    """A running part's worker is alive as of `when`: its lease runs `lease_s` from then."""
    part.lease_expires_at = when + timedelta(seconds=part.lease_s)


@dataclass
class Phase:
    id: str
    kind: str
    table: str | None
    state: str = PENDING
    stop_requested: bool = False
    reasons: list[str] = field(default_factory=list)
    attempt: int = 0
    worker: str | None = None
    epoch: int = 0
    step: int = 0
    elapsed_s: float = 0.0
    val_loss: float | None = None
    epsilon: float | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    checkpoint: dict | None = None
    resume_from: dict | None = None
    epoch_limit: int | None = None  # its own (training N more epochs), else the spec's
    last_kept: dict | None = None
    privacy: dict | None = None
    lease_s: float = 0.0
    lease_expires_at: datetime | None = None
    reported_at: datetime | None = None  # the runner's last sign of life
    preemptions: int = 0  # attempts handed back by a worker shutting down
    error: str | None = None


@dataclass
class Step:
    id: str
    state: str = PENDING
    attempt: int = 0
    worker: str | None = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    outputs: dict = field(default_factory=dict)
    lease_s: float = 0.0
    lease_expires_at: datetime | None = None
    reported_at: datetime | None = None
    error: str | None = None
