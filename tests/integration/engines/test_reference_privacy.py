"""DP-SGD in the reference engine: epsilon reported at every boundary, the budget kept."""

from dataclasses import replace

import pytest
from dp_accounting import GaussianDpEvent, PoissonSampledDpEvent
from dp_accounting.rdp import RdpAccountant

from ffwd.adapters.privacy.rdp import accounting
from ffwd.application.spec import DifferentialPrivacySpec
from tests.integration.engines.controls import ScriptedControl
from tests.integration.engines.jobs import tabular_job, text_job

BUDGET = 2.5
DP = DifferentialPrivacySpec(max_epsilon=BUDGET, noise_multiplier=1.5, max_grad_norm=1.0)
STEPS_PER_EPOCH = 9  # 540 training rows, batch 64


def library_epsilon(steps: int, q: float = 64 / 540, noise: float = 1.5) -> float:
    accountant = RdpAccountant(accounting().orders)
    accountant.compose(PoissonSampledDpEvent(q, GaussianDpEvent(noise)), steps)
    return accountant.get_epsilon(DP.delta)


def test_the_control_stops_the_phase_when_the_next_step_would_exceed_the_budget(
    engine, store, customers
):
    control = ScriptedControl(max_epsilon=BUDGET)
    outcome = engine.train(tabular_job(customers, differential_privacy=DP), control)

    assert outcome.reasons == ("privacy_budget_exhausted",)
    *before, last = control.calls
    assert last[2]["next_epsilon"] > BUDGET
    assert all(m["next_epsilon"] <= BUDGET for _, _, m in before)
    epsilons = [m["epsilon"] for _, _, m in control.calls]
    assert epsilons == sorted(epsilons)
    assert outcome.epsilon == pytest.approx(library_epsilon(outcome.step), rel=1e-9)
    assert outcome.epsilon <= BUDGET
    assert outcome.checkpoint["epsilon"] <= BUDGET
    assert outcome.checkpoint["step"] % STEPS_PER_EPOCH == 0  # an epoch end, validated
    _, meta = store.load("gen-1", "tabular", outcome.checkpoint["id"])
    assert meta["privacy"]["segments"] == [[64 / 540, 1.5, outcome.checkpoint["step"]]]


def test_every_boundary_reports_privacy_and_only_epoch_ends_report_losses(engine, customers):
    control = ScriptedControl(max_epsilon=BUDGET)
    engine.train(tabular_job(customers, differential_privacy=DP), control)

    for _, step, metrics in control.calls:
        privacy = {"epsilon", "next_epsilon"}
        expected = privacy | {"val_loss", "train_loss"} if step % 9 == 0 else privacy
        assert set(metrics) == expected


def test_the_engine_never_steps_past_the_budget_even_if_the_control_would(engine, customers):
    control = ScriptedControl(stop_at_epoch=50)  # knows nothing of privacy
    outcome = engine.train(tabular_job(customers, differential_privacy=DP), control)

    assert outcome.reasons == ("privacy_budget_exhausted",)
    assert outcome.epsilon <= BUDGET < library_epsilon(outcome.step + 1)
    assert max(m["epsilon"] for _, _, m in control.calls) <= BUDGET


def test_without_a_noise_multiplier_the_phase_chooses_one_that_pays_for_its_epochs(
    engine, customers
):
    chosen = DifferentialPrivacySpec(max_epsilon=1.0)
    control = ScriptedControl(stop_at_epoch=4, max_epsilon=1.0)
    outcome = engine.train(
        tabular_job(customers, differential_privacy=chosen, max_epochs=4), control
    )

    [plan] = control.plans
    assert plan.calibrated and plan.steps_per_epoch == STEPS_PER_EPOCH
    assert plan.last_step >= 4 * STEPS_PER_EPOCH
    assert outcome.step == 4 * STEPS_PER_EPOCH and "max_epochs_reached" in outcome.reasons
    assert outcome.epsilon <= 1.0
    assert outcome.epsilon == pytest.approx(
        library_epsilon(outcome.step, noise=plan.noise_multiplier), rel=1e-9
    )
    _, meta = engine.checkpoints.load("gen-1", "tabular", outcome.checkpoint["id"])
    assert meta["privacy"]["segments"][0][1] == plan.noise_multiplier


def test_a_continued_phase_whose_lineage_spent_its_budget_ends_at_once_keeping_its_model(
    engine, customers
):
    chosen = DifferentialPrivacySpec(max_epsilon=BUDGET)
    parent_job = tabular_job(customers, "parent", differential_privacy=chosen, max_epochs=2)
    first = ScriptedControl(stop_at_epoch=2, max_epsilon=BUDGET)
    parent = engine.train(parent_job, first)
    assert parent.checkpoint["step"] == 2 * STEPS_PER_EPOCH  # kept where the budget ran out
    resume = {"generator": "parent", **parent.checkpoint}
    control = ScriptedControl(max_epsilon=BUDGET)
    # at the same noise, not one more step fits what is left
    same = chosen.model_copy(update={"noise_multiplier": first.plans[0].noise_multiplier})
    child_job = replace(
        tabular_job(customers, "child", differential_privacy=same, max_epochs=4),
        resume_from=resume,
    )
    outcome = engine.train(child_job, control)

    assert outcome.reasons == ("privacy_budget_exhausted",)
    assert control.calls == []  # not one more step
    assert outcome.checkpoint == parent.checkpoint | {"id": outcome.checkpoint["id"]}
    assert control.plans[0].last_step == outcome.step


def test_a_continued_phase_chooses_its_noise_for_what_its_lineage_left(engine, customers):
    parent_job = tabular_job(customers, "parent", differential_privacy=DP)
    parent = engine.train(parent_job, ScriptedControl(stop_at_epoch=1))
    resume = {"generator": "parent", **parent.checkpoint}
    chosen = DifferentialPrivacySpec(max_epsilon=BUDGET)
    control = ScriptedControl(stop_at_epoch=3, max_epsilon=BUDGET)
    child_job = replace(
        tabular_job(customers, "child", differential_privacy=chosen, max_epochs=3),
        resume_from=resume,
    )
    outcome = engine.train(child_job, control)

    [plan] = control.plans
    assert plan.last_step >= 3 * STEPS_PER_EPOCH  # two more epochs paid for
    assert "max_epochs_reached" in outcome.reasons and outcome.epsilon <= BUDGET
    assert control.calls[0][2]["epsilon"] > parent.checkpoint["epsilon"]


def test_a_budget_too_small_for_one_step_fails_the_phase(engine, customers):
    tiny = DP.model_copy(update={"max_epsilon": 0.1})
    with pytest.raises(ValueError, match="does not allow"):
        engine.train(tabular_job(customers, differential_privacy=tiny), ScriptedControl())


def test_a_resumed_phase_continues_the_privacy_ledger(engine, customers):
    job = tabular_job(customers, "parent", differential_privacy=DP)
    parent = engine.train(job, ScriptedControl(stop_at_step=9))
    resume = {"generator": "parent", **parent.checkpoint}
    control = ScriptedControl(stop_at_step=0)
    child_job = replace(
        tabular_job(customers, "child", differential_privacy=DP), resume_from=resume
    )
    engine.train(child_job, control)

    _, step, metrics = control.calls[0]
    assert step == 10
    assert metrics["epsilon"] == pytest.approx(library_epsilon(10), rel=1e-9)


def test_a_non_private_checkpoint_cannot_continue_privately(engine, customers):
    parent = engine.train(tabular_job(customers, "parent"), ScriptedControl(stop_at_step=0))
    resume = {"generator": "parent", **parent.checkpoint}
    child_job = replace(
        tabular_job(customers, "child", differential_privacy=DP), resume_from=resume
    )
    with pytest.raises(ValueError, match="without differential privacy"):
        engine.train(child_job, ScriptedControl(stop_at_step=0))


def test_the_text_model_trains_privately(engine, customers):
    control = ScriptedControl(stop_at_epoch=2, max_epsilon=BUDGET)
    outcome = engine.train(text_job(customers, differential_privacy=DP), control)

    assert outcome.checkpoint["epsilon"] <= BUDGET
    losses = control.val_losses()
    assert losses[-1] < losses[0]
