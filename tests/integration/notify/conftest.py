"""Fixtures of the notification tests: stores of each kind, a service over a tiny table, a
webhook receiver on loopback, and commands that walk generators through their lifecycle."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from ffwd.adapters.container import build_service
from ffwd.application.service import GeneratorService
from tests.integration.notify.receiver import Receiver

SECRET = "whsec-test-8b1f"
NEVER_TOLD = {"Heartbeat"}
STORES = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
]


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/store.db"
    return request.getfixturevalue("fresh_postgres_url")


@pytest.fixture
def svc(store_url: str, tmp_path: Path) -> Iterator[GeneratorService]:
    service = build_service(store=store_url, data=str(tmp_path / "data"))
    try:
        yield service
    finally:
        service.store.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver(secret=SECRET)
    try:
        yield r
    finally:
        r.close()


def webhook(url: str, **overrides: Any) -> dict[str, Any]:
    """A config with one fast-retrying webhook endpoint `hook`; its timeout is generous, so
    that a loaded machine never turns a slow answer into a retry that exact counts would see."""
    endpoint = {
        "name": "hook",
        "kind": "webhook",
        "url": url,
        "secret": SECRET,
        "events": ["*"],
        "from": "earliest",
        "timeout_s": 5,
        "max_attempts": 3,
        "backoff_s": 0.02,
        "max_backoff_s": 0.1,
    }
    settings = {"poll_s": 0.05, "lease_s": 12, "drain_s": 5, "link_base": "http://ffwd.test"}
    for key, value in overrides.items():
        (settings if key in settings else endpoint)[key] = value
    return {**settings, "endpoints": [endpoint]}


def checkpoint(name: str) -> dict[str, Any]:
    return {"id": name, "epoch": 2, "step": 20, "val_loss": 1.5}


def stopped_then_failed(svc: GeneratorService, spec: dict[str, Any]) -> str:
    """A tabular phase stopped by hand (succeeds with a checkpoint), then a text phase taken
    over by a second worker, which fails, failing the generator."""
    gid = svc.create_generator(spec)
    attempt = svc.start_phase(gid, "tabular", "w1")
    svc.record_progress(gid, "tabular", attempt, epoch=1, step=10, elapsed_s=0.5)
    svc.request_stop(gid, "tabular", requested_by="alice")
    svc.finish_phase(
        gid,
        "tabular",
        attempt,
        reasons=[],
        checkpoint=checkpoint("ckpt-tabular"),
        epoch=2,
        step=20,
        elapsed_s=1.0,
        val_loss=1.5,
    )
    first = svc.start_phase(gid, "text:customers", "w1")
    svc.heartbeat(gid, "text:customers", first)  # bookkeeping: never notifies
    svc.wait_for_resources(gid, "text:customers", first, "1 CPU, 1 GPU")  # on a Ray cluster
    later = datetime.now(UTC) + timedelta(minutes=5)  # w1's lease has run out by then
    text = svc.take_over(gid, "text:customers", "w2", now=later)
    svc.fail_phase(gid, "text:customers", text, "out of memory")
    return str(gid)


def trained(
    svc: GeneratorService, gid: Any, reasons: list[str], epoch: int, step: int, elapsed_s: float
) -> None:
    """Both phases (tabular, text:customers) run and end for `reasons`."""
    for phase in ("tabular", "text:customers"):
        attempt = svc.start_phase(gid, phase, "w1")
        svc.finish_phase(
            gid,
            phase,
            attempt,
            reasons=reasons,
            checkpoint=checkpoint(f"ckpt-{phase}"),
            epoch=epoch,
            step=step,
            elapsed_s=elapsed_s,
        )


def succeeded(svc: GeneratorService, spec: dict[str, Any]) -> str:
    """Every phase and step through to a succeeded generator."""
    gid = svc.create_generator(spec)
    trained(svc, gid, ["max_epochs_reached"], epoch=2, step=20, elapsed_s=1.0)
    for step in ("synthesis", "report"):
        attempt = svc.start_step(gid, step, "w1")
        svc.finish_step(gid, step, attempt, {step: f"{step}.out"})
    return str(gid)


def cancelled(svc: GeneratorService, spec: dict[str, Any]) -> str:
    gid = svc.create_generator(spec)
    svc.start_phase(gid, "tabular", "w1")
    svc.cancel(gid, requested_by="bob")
    return str(gid)


def failed_step(svc: GeneratorService, spec: dict[str, Any]) -> str:
    gid = svc.create_generator(spec)
    trained(svc, gid, ["early_stopped"], epoch=1, step=5, elapsed_s=0.2)
    attempt = svc.start_step(gid, "synthesis", "w1")
    svc.fail_step(gid, "synthesis", attempt, "disk full")
    return str(gid)


def private(svc: GeneratorService, spec: dict[str, Any]) -> str:
    """A private tabular phase that records the noise it chose for its budget."""
    dp = {"differential_privacy": {"max_epsilon": 1.0}}
    gid = svc.create_generator({**spec, "training": {**spec.get("training", {}), **dp}})
    attempt = svc.start_phase(gid, "tabular", "w1")
    plan = {"calibrated": True, "sampling_rate": 0.1, "steps_per_epoch": 10, "last_step": 300}
    svc.record_privacy(gid, "tabular", attempt, noise_multiplier=2.0, **plan)
    return str(gid)


def notified_keys(svc: GeneratorService, gids: list[str]) -> set[str]:
    """The idempotency keys of every event of these generators that notifies under "*"."""
    return {f"{g}:{e.version}" for g in gids for e in svc.history(g) if e.type not in NEVER_TOLD}


def preempted(svc: GeneratorService, spec: dict[str, Any]) -> str:
    """A worker shutting down hands its phase back, then its synthesis; both run again."""
    gid = svc.create_generator(spec)
    attempt = svc.start_phase(gid, "tabular", "w1")
    svc.release_phase(
        gid, "tabular", attempt, epoch=3, step=30, elapsed_s=1.5, kept=checkpoint("ckpt-t")
    )
    trained(svc, gid, ["max_epochs_reached"], epoch=4, step=40, elapsed_s=2.0)
    attempt = svc.start_step(gid, "synthesis", "w2")
    svc.release_step(gid, "synthesis", attempt)
    return str(gid)
