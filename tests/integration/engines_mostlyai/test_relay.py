"""The relay from the engine's progress callback to our control, on scripted calls: which
calls are steps, what the control is asked, and reasons derived when the engine stops itself."""

from ffwd.adapters.engines.mostlyai.relay import STOP, Relay
from ffwd.application.spec import TrainingSpec
from tests.integration.engines_mostlyai.recording import RecordingControl


def message(steps: int, epoch: float, val_loss=None, checkpoint=0, dp_eps=None) -> dict:
    return {
        "epoch": epoch,
        "steps": steps,
        "val_loss": val_loss,
        "is_checkpoint": checkpoint,
        "dp_eps": dp_eps,
        "total_time": 1.0,
    }


def spec(**values) -> TrainingSpec:
    return TrainingSpec(**({"max_training_time_s": None, "early_stopping_patience": None} | values))


def drive(relay: Relay, losses: list[float], steps_per_epoch: int = 2) -> None:
    relay(total=1, completed=0)  # the stage opens
    step = 0
    for epoch, loss in enumerate(losses, start=1):
        for k in range(steps_per_epoch):
            step += 1
            last = k == steps_per_epoch - 1
            msg = message(step, epoch, loss) if last else None
            if relay(total=99, completed=step, message=msg) == STOP:
                return


def test_stage_calls_and_the_final_message_are_not_steps() -> None:
    control = RecordingControl(spec(max_epochs=50))
    relay = Relay(control)
    assert relay(total=1, completed=0) is None
    assert relay(total=10, completed=1, message=message(1, 0.5)) is None
    assert relay(total=10, completed=1, message=message(1, 0.5, 3.0, checkpoint=1)) is None
    assert relay(total=1, completed=1) is None
    assert control.steps == [1]
    assert relay.kept is not None and (relay.kept.step, relay.kept.val_loss) == (1, 3.0)


def test_the_engines_own_early_stop_is_recognised_from_its_validation_losses() -> None:
    relay = Relay(RecordingControl(spec(max_epochs=50)))
    drive(relay, [5.0, 4.0, 4.5, 4.2, 4.1, 4.0, 4.3])  # five misses after 4.0
    assert not relay.stopped
    assert relay.engine_reasons() == ("early_stopped",)


def test_an_engine_stop_that_nothing_explains_is_unknown() -> None:
    relay = Relay(RecordingControl(spec(max_epochs=50)))
    drive(relay, [5.0, 4.0, 3.0])
    assert relay.engine_reasons() == ()


def test_the_engines_epsilon_check_is_recognised() -> None:
    relay = Relay(RecordingControl(spec(max_epochs=50)), max_epsilon=1.0)
    relay(total=1, completed=0)
    relay(total=9, completed=1, message=message(1, 1.0, 3.0, dp_eps=1.2))
    assert relay.engine_reasons() == ("privacy_budget_exhausted",)


def test_our_control_decides_and_the_relay_says_stop_execution() -> None:
    relay = Relay(RecordingControl(spec(max_epochs=2)))
    drive(relay, [5.0, 4.0, 3.0])
    assert relay.stopped and relay.reasons == ("max_epochs_reached",)
    assert (relay.epoch, relay.step) == (2, 4)


def test_with_several_tables_only_phase_wide_reasons_come_from_the_phase_control() -> None:
    phase = RecordingControl(spec(max_epochs=2))
    table = RecordingControl(spec(max_epochs=2))
    relay = Relay(phase, policies=table, epoch_offset=2, step_offset=4)
    drive(relay, [5.0, 4.0])
    # the phase control saw cumulative counters (its epoch limit fired, and was ignored) ...
    assert [c[:2] for c in phase.calls][:2] == [(2, 5), (3, 6)]
    # ... the table's own control stopped the table at its second epoch
    assert relay.reasons == ("max_epochs_reached",) and relay.step == 4
    phase.request_stop()
    relay = Relay(phase, policies=RecordingControl(spec(max_epochs=9)), step_offset=8)
    drive(relay, [5.0])
    assert relay.reasons == ("manually_stopped",) and relay.step == 1
