"""Differential privacy at real budgets on the sample customers (1,500 rows, a text column):
noise chosen for the budget, impossible budgets refused when the generator is created, and the
view's forecast of how many more epochs the budget pays for."""

import shutil
from pathlib import Path
from typing import Any

import pytest

import ffwd.adapters.sample_data
from ffwd.domain import errors
from tests.e2e.helpers import entries, phase

SAMPLE = Path(ffwd.adapters.sample_data.__file__).parent
PHASES = ["tabular", "text:customers"]
STEPS_PER_EPOCH = 22  # 1,350 training rows in batches of 64
BUDGET_REASONS = {"privacy_budget_exhausted", "max_epochs_reached"}


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sample")
    shutil.copy(SAMPLE / "customers.csv", folder / "customers.csv")
    return folder


def spec(**training: Any) -> dict[str, Any]:
    return {
        "name": "private-customers",
        "tables": [{"name": "customers", "path": "customers.csv", "text_columns": ["bio"]}],
        "training": {"early_stopping_patience": None, "max_training_time_s": None, **training},
        "synthesis": {"rows": {"customers": 200}},
    }


@pytest.mark.parametrize("budget", [1.0, 0.5])
def test_a_small_budget_trains_every_phase_within_it(svc, sample, budget: float) -> None:
    dp = {"max_epsilon": budget, "delta": 1e-5}
    gid = svc.create_generator(spec(max_epochs=3, differential_privacy=dp), base_dir=sample)
    view = svc.run(gid, progress_interval_s=0.05)

    assert view.state == "succeeded", view.error
    history = svc.history(gid)
    for p in map(lambda phase_id: phase(view, phase_id), PHASES):
        assert p.reasons and set(p.reasons) <= BUDGET_REASONS, (p.id, p.reasons)
        assert p.epoch == 3 and 0 < p.epsilon <= budget
        assert p.privacy.epsilon == p.epsilon and p.privacy.max_epsilon == budget
        assert p.privacy.delta == 1e-5
        [planned] = entries(history, "PrivacyPlanned", p.id)
        assert planned.data["calibrated"] and planned.data["steps_per_epoch"] == STEPS_PER_EPOCH
        assert p.privacy.noise_multiplier == planned.data["noise_multiplier"] > 1
        # the noise paid for the three planned epochs, and hardly more
        assert 0 <= p.privacy.epochs_left < 1
    assert "report" in view.outputs


def test_an_explicit_noise_that_cannot_pay_for_one_epoch_is_refused_at_creation(
    svc, sample
) -> None:
    dp = {"max_epsilon": 1.0, "noise_multiplier": 1.0}
    with pytest.raises(errors.InvalidSpec) as refused:
        svc.create_generator(spec(max_epochs=400, differential_privacy=dp), base_dir=sample)

    problems = refused.value.problems
    assert [p.split(" of phase ")[1].split(" ")[0] for p in problems] == PHASES
    for problem in problems:
        assert problem.startswith(
            "training.differential_privacy.noise_multiplier: 1 cannot pay for one epoch of phase"
        )
        assert "the smallest noise multiplier for one epoch is " in problem
        assert "for all 400 planned epochs 18.03" in problem
    assert svc.list_generators().items == []  # nothing written


def test_a_budget_no_noise_multiplier_can_keep_is_refused_at_creation(svc, sample) -> None:
    dp = {"max_epsilon": 0.001}
    with pytest.raises(errors.InvalidSpec, match=r"max_epsilon: 0\.001 is too small for phase"):
        svc.create_generator(spec(differential_privacy=dp), base_dir=sample)
    assert svc.list_generators().items == []


def test_the_forecast_says_when_the_budget_ends_the_phase(svc, sample) -> None:
    dp = {"max_epsilon": 3.0, "noise_multiplier": 1.5}
    gid = svc.create_generator(spec(max_epochs=200, differential_privacy=dp), base_dir=sample)
    view = svc.run(gid, progress_interval_s=0.05)

    assert view.state == "succeeded", view.error
    history = svc.history(gid)
    [planned] = entries(history, "PrivacyPlanned", "tabular")
    forecast = svc.get_view(gid, at_version=planned.version)
    left = phase(forecast, "tabular").privacy.epochs_left
    assert phase(forecast, "tabular").privacy.noise_multiplier == 1.5
    tabular = phase(view, "tabular")
    assert tabular.reasons == ["privacy_budget_exhausted"]
    assert tabular.step == planned.data["last_step"]  # it ended where the forecast said
    assert tabular.epoch == int(left) and tabular.privacy.epochs_left == 0
    assert tabular.epsilon <= 3.0
    # every progress report in between counted the forecast down
    lefts = [
        phase(svc.get_view(gid, at_version=e.version), "tabular").privacy.epochs_left
        for e in entries(history, "PhaseProgressed", "tabular")
    ]
    assert lefts == sorted(lefts, reverse=True) and lefts[0] <= left


def test_continuing_with_a_budget_below_what_the_lineage_spent_is_refused(svc, sample) -> None:
    dp = {"max_epsilon": 3.0}
    parent = svc.run(
        svc.create_generator(spec(max_epochs=2, differential_privacy=dp), base_dir=sample)
    )
    spent = phase(parent, "tabular").checkpoint
    assert spent is not None
    with pytest.raises(errors.InvalidSpec, match=r"below the epsilon .* already spent in phase"):
        svc.continue_training(
            parent.id, {"training": {"differential_privacy": {"max_epsilon": 0.5}}}
        )
    child = svc.run(svc.continue_training(parent.id, {"training": {"max_epochs": 4}}))
    tabular = phase(child, "tabular")
    assert child.state == "succeeded" and tabular.epoch == 4 and tabular.epsilon <= 3.0
