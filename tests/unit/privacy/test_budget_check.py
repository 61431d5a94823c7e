"""A private spec's budget checked at creation: what can never work is refused, with the noise
multipliers that would; what can work is let through, whatever it costs."""

import pytest

from ffwd.adapters.engines.mostlyai import MostlyAIEngine
from ffwd.adapters.privacy.rdp import OPACUS_ORDERS, RdpAccountant
from ffwd.application.privacy_check import budget_problems
from ffwd.application.spec import TrainingSpec, parse_spec
from ffwd.domain.errors import InvalidSpec

ACCOUNTANT = RdpAccountant()
PHASES = {"tabular": [1500, 2500], "text:customers": [1500]}


def training(max_epochs: int = 400, **dp) -> TrainingSpec:
    return TrainingSpec(max_epochs=max_epochs, differential_privacy=dp)


def test_without_privacy_there_is_nothing_to_check() -> None:
    assert budget_problems(TrainingSpec(), PHASES, None, ACCOUNTANT) == []


def test_a_chosen_noise_is_let_through_whatever_it_costs() -> None:
    assert budget_problems(training(max_epsilon=0.1), PHASES, None, ACCOUNTANT) == []


def test_an_explicit_noise_that_pays_for_one_epoch_is_let_through() -> None:
    assert (
        budget_problems(training(max_epsilon=3.0, noise_multiplier=1.5), PHASES, None, ACCOUNTANT)
        == []
    )


def test_an_explicit_noise_that_cannot_pay_for_one_epoch_names_the_ones_that_would() -> None:
    problems = budget_problems(
        training(max_epsilon=1.0, noise_multiplier=1.0), PHASES, None, ACCOUNTANT
    )
    assert len(problems) == 2
    tabular, text = problems
    # the tabular phase samples at its largest table's rate: 64 of 2,250 rows a step
    assert tabular.startswith(
        "training.differential_privacy.noise_multiplier: 1 cannot pay for one epoch of phase "
        "tabular within max_epsilon 1 (one epoch would spend epsilon 1.9 at delta 1e-05)"
    )
    assert "the smallest noise multiplier for one epoch is 1.32," in tabular
    assert "for all 400 planned epochs 13.85;" in tabular
    assert "for all 400 planned epochs 18.03;" in text
    assert text.endswith("or leave noise_multiplier out to have it chosen for the budget")


def test_a_budget_below_what_any_noise_keeps_is_refused() -> None:
    [problem, _] = budget_problems(training(max_epsilon=0.001), PHASES, None, ACCOUNTANT)
    assert problem.startswith(
        "training.differential_privacy.max_epsilon: 0.001 is too small for phase tabular: no "
        "noise multiplier up to 10000 keeps all 400 planned epochs within it (they would spend "
        "at least epsilon 0.0036 at delta 1e-05)"
    )
    spec = training(max_epsilon=0.001, planned_steps=10)
    assert (
        "keeps its 10 planned steps within it" in budget_problems(spec, PHASES, None, ACCOUNTANT)[0]
    )


def test_an_engine_checks_with_its_own_sampling_accountant_and_reserve(tmp_path) -> None:
    engine = MostlyAIEngine(str(tmp_path))
    assert engine.accountant.orders == OPACUS_ORDERS
    spec = training(max_epochs=10, max_epsilon=1.0, noise_multiplier=1.2)
    samplings = engine.privacy_samplings([1500, 2500], spec)
    assert [(s.steps_per_epoch, s.reserved_epsilon) for s in samplings] == [(21, 0.1), (35, 0.1)]
    [problem] = budget_problems(spec, {"tabular": [1500, 2500]}, engine, ACCOUNTANT)
    assert "after the 0.1 the engine reserves" in problem  # the smaller table's model


@pytest.mark.parametrize(
    "dp",
    [
        {"noise_multiplier": 2.0, "planned_steps": 100},
        {"noise_multiplier": 0},
        {"planned_steps": 0},
    ],
)
def test_a_spec_that_contradicts_itself_is_invalid(dp) -> None:
    spec = {"name": "g", "tables": [{"name": "t", "path": "t.csv"}]}
    with pytest.raises(InvalidSpec) as e:
        parse_spec(spec | {"training": {"differential_privacy": dp}})
    assert e.value.problems[0].startswith("training.differential_privacy")
