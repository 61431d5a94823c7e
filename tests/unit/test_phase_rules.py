"""Every cell of the phase table in RULES.md, on the aggregate."""

import pytest

from ffwd.domain import errors
from ffwd.domain.generator import Generator

CHECKPOINT = {"id": "e1-s3", "epoch": 1, "step": 3, "val_loss": 1.5}


def fresh() -> Generator:
    return Generator.create(name="g", kind="training", spec={}, text_tables=["customers", "orders"])


def in_state(state: str) -> tuple[Generator, int]:
    """A generator whose tabular phase is in `state`, with the attempt that runs it."""
    g, attempt = fresh(), 0
    if state == "cancelled":
        g.cancel("alice")
    elif state != "pending":
        attempt = g.start_phase("tabular", "w1")
    if state == "stopping":
        g.request_stop("tabular", "alice")
    elif state == "succeeded":
        g.finish_phase(
            "tabular",
            attempt,
            reasons=["early_stopped"],
            checkpoint=CHECKPOINT,
            epoch=1,
            step=3,
            elapsed_s=1.0,
        )
    elif state == "failed":
        g.fail_phase("tabular", attempt, "boom")
    assert g.phases["tabular"].state == state
    g.collect_events()
    return g, attempt


def finish(g: Generator, attempt: int) -> list[str]:
    return g.finish_phase(
        "tabular", attempt, reasons=[], checkpoint=CHECKPOINT, epoch=1, step=3, elapsed_s=1.0
    )


def progress(g: Generator, attempt: int) -> None:
    g.record_progress("tabular", attempt, epoch=1, step=2, elapsed_s=0.5, val_loss=2.0)


COMMANDS = {
    "start": lambda g, a: g.start_phase("tabular", "w2"),
    "request_stop": lambda g, a: g.request_stop("tabular", "bob"),
    "finish": finish,
    "fail": lambda g, a: g.fail_phase("tabular", a, "engine crashed"),
    "cancel": lambda g, a: g.cancel("bob"),
    "progress": progress,
}

# (state, command) -> resulting phase state, or the error code raised.
TABLE = {
    ("pending", "start"): "running",
    ("pending", "request_stop"): "pending",
    ("pending", "finish"): "invalid_transition",
    ("pending", "fail"): "invalid_transition",
    ("pending", "cancel"): "cancelled",
    ("pending", "progress"): "invalid_transition",
    ("running", "start"): "invalid_transition",
    ("running", "request_stop"): "stopping",
    ("running", "finish"): "succeeded",
    ("running", "fail"): "failed",
    ("running", "cancel"): "cancelled",
    ("running", "progress"): "running",
    ("stopping", "start"): "invalid_transition",
    ("stopping", "request_stop"): "stopping",
    ("stopping", "finish"): "succeeded",
    ("stopping", "fail"): "failed",
    ("stopping", "cancel"): "cancelled",
    ("stopping", "progress"): "stopping",
    ("succeeded", "start"): "phase_already_finished",
    ("succeeded", "request_stop"): "phase_already_finished",
    ("succeeded", "finish"): "phase_already_finished",
    ("succeeded", "fail"): "phase_already_finished",
    ("succeeded", "progress"): "phase_already_finished",
    ("failed", "start"): "generator_already_finished",
    ("failed", "request_stop"): "phase_already_finished",
    ("failed", "finish"): "phase_already_finished",
    ("failed", "fail"): "phase_already_finished",
    ("failed", "cancel"): "generator_already_finished",
    ("failed", "progress"): "phase_already_finished",
    ("cancelled", "start"): "generator_cancelled",
    ("cancelled", "request_stop"): "generator_cancelled",
    ("cancelled", "finish"): "generator_cancelled",
    ("cancelled", "fail"): "generator_cancelled",
    ("cancelled", "progress"): "generator_cancelled",
}


@pytest.mark.parametrize(("state", "command"), sorted(TABLE))
def test_every_cell_of_the_phase_table(state: str, command: str) -> None:
    g, attempt = in_state(state)
    expected = TABLE[(state, command)]
    before = g.version
    if expected in {"pending", "running", "stopping", "succeeded", "failed", "cancelled"}:
        COMMANDS[command](g, attempt)
        assert g.phases["tabular"].state == expected
    else:
        with pytest.raises(errors.FfwdError) as raised:
            COMMANDS[command](g, attempt)
        assert raised.value.code == expected
        assert g.version == before, "a rejected command writes nothing"
        assert g.collect_events() == []


def test_cancel_of_a_succeeded_phase_keeps_it_but_discards_its_checkpoint() -> None:
    g, _ = in_state("succeeded")
    g.cancel("alice")
    phase = g.phases["tabular"]
    assert (phase.state, phase.reasons, phase.checkpoint) == ("succeeded", ["early_stopped"], None)
    assert {p.state for p in list(g.phases.values())[1:]} == {"cancelled"}
    event = g.collect_events()[-1]
    assert event.discarded_checkpoints == ["e1-s3"]


def test_a_second_stop_while_stopping_is_a_no_op_without_event() -> None:
    g, _ = in_state("stopping")
    assert g.request_stop("tabular", "carol") is False
    assert g.collect_events() == []


def test_a_pre_queued_stop_is_idempotent_and_applied_at_start() -> None:
    g = fresh()
    assert g.request_stop("text:orders", "alice") is True
    assert g.request_stop("text:orders", "bob") is False
    stop = g.collect_events()[-1]
    assert (stop.phase_state_then, stop.state, stop.requested_by) == ("pending", "pending", "alice")
    attempt = g.start_phase("tabular", "w")
    finish(g, attempt)
    g.start_phase("text:orders", "w")
    assert g.phases["text:orders"].state == "stopping"
    assert g.phases["text:customers"].stop_requested is False


def test_ending_a_stopping_phase_records_manually_stopped_and_where_it_landed() -> None:
    g, attempt = in_state("stopping")
    reasons = g.finish_phase(
        "tabular",
        attempt,
        reasons=["early_stopped"],
        checkpoint=CHECKPOINT,
        epoch=2,
        step=7,
        elapsed_s=3.0,
        val_loss=1.4,
    )
    assert reasons == ["manually_stopped", "early_stopped"]
    ended = g.collect_events()[-1]
    assert (ended.epoch, ended.step, ended.checkpoint["id"]) == (2, 7, "e1-s3")


def test_a_runner_that_ends_without_a_cause_records_unknown() -> None:
    g, attempt = in_state("running")
    assert finish(g, attempt) == ["unknown"]


def test_unknown_never_appears_with_another_reason() -> None:
    g, attempt = in_state("running")
    reasons = g.finish_phase(
        "tabular",
        attempt,
        reasons=["unknown", "max_epochs_reached"],
        checkpoint=CHECKPOINT,
        epoch=1,
        step=3,
        elapsed_s=1.0,
    )
    assert reasons == ["max_epochs_reached"]


def test_a_succeeded_phase_must_keep_a_checkpoint() -> None:
    g, attempt = in_state("running")
    with pytest.raises(errors.InvalidTransition):
        g.finish_phase(
            "tabular", attempt, reasons=[], checkpoint={}, epoch=1, step=1, elapsed_s=1.0
        )


def test_a_stale_attempt_is_rejected() -> None:
    g, attempt = in_state("running")
    with pytest.raises(errors.StaleRunner):
        finish(g, attempt + 1)
    with pytest.raises(errors.StaleRunner):
        g.record_progress("tabular", attempt - 1, epoch=1, step=1, elapsed_s=0.1)


def test_counters_never_go_back() -> None:
    g, attempt = in_state("running")
    progress(g, attempt)
    with pytest.raises(errors.InvalidTransition):
        g.record_progress("tabular", attempt, epoch=0, step=5, elapsed_s=1.0)
    with pytest.raises(errors.InvalidTransition):
        g.record_progress("tabular", attempt, epoch=1, step=1, elapsed_s=1.0)


def test_text_phases_are_queued_behind_the_tabular_phase() -> None:
    g = fresh()
    with pytest.raises(errors.InvalidTransition):
        g.start_phase("text:customers", "w")
    assert g.phases["text:customers"].state == "pending"


def test_unknown_phase() -> None:
    with pytest.raises(errors.UnknownPhase) as raised:
        fresh().request_stop("text:nope", "alice")
    assert raised.value.code == "unknown_phase"


def test_a_command_on_one_phase_never_changes_another() -> None:
    g, attempt = in_state("running")
    others = {k: v for k, v in g.phases.items() if k != "tabular"}
    snapshot = {k: vars(v).copy() for k, v in others.items()}
    g.request_stop("tabular", "alice")
    progress(g, attempt)
    finish(g, attempt)
    assert {k: vars(v) for k, v in others.items()} == snapshot


def test_a_phase_end_records_the_privacy_spent() -> None:
    g = fresh()
    attempt = g.start_phase("tabular", "w")
    g.finish_phase(
        "tabular", attempt, reasons=["privacy_budget_exhausted"], checkpoint=CHECKPOINT,
        epoch=1, step=3, elapsed_s=1.0, epsilon=0.8,
    )  # fmt: skip
    assert g.phases["tabular"].epsilon == 0.8 and g.collect_events()[-1].epsilon == 0.8
