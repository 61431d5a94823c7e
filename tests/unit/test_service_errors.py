"""Every error code of the contract that the service raises, and that nothing is written."""

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ffwd.adapters.container import build_service
from ffwd.application.ports import ConcurrentWrite
from ffwd.application.service import GeneratorService
from ffwd.domain import errors

CSV = "id,age,city,bio\n" + "".join(
    f"{i},{20 + i % 50},{['Paris', 'Rome'][i % 2]},writes about cats and dogs number {i}\n"
    for i in range(40)
)


@pytest.fixture
def svc() -> GeneratorService:
    return build_service("memory://")


@pytest.fixture
def spec(tmp_path: Path) -> dict:
    (tmp_path / "people.csv").write_text(CSV)
    return {"name": "g", "tables": [{"name": "people", "path": str(tmp_path / "people.csv")}]}


def codes_of(call) -> str:
    with pytest.raises(errors.FfwdError) as raised:
        call()
    return raised.value.code


def test_text_columns_are_detected_and_become_phases(svc, spec) -> None:
    view = svc.get_view(svc.create_generator(spec))
    assert [p.id for p in view.phases] == ["tabular", "text:people"]
    assert view.spec["tables"][0]["text_columns"] == ["bio"]


def test_relative_paths_are_resolved_against_base_dir(svc, spec, tmp_path) -> None:
    spec["tables"][0]["path"] = "people.csv"
    gid = svc.create_generator(spec, base_dir=tmp_path)
    assert svc.get_view(gid).spec["tables"][0]["path"] == str(tmp_path / "people.csv")


def test_invalid_spec_lists_every_problem_and_writes_nothing(svc, spec) -> None:
    spec["tables"].append({"name": "bad name", "path": "x.csv", "extra": 1})
    spec["training"] = {"max_epochs": 0, "batch_size": "many"}
    with pytest.raises(errors.InvalidSpec) as raised:
        svc.create_generator(spec)
    assert raised.value.code == "invalid_spec"
    where = {p.split(":")[0] for p in raised.value.problems}
    assert {
        "tables.1.name",
        "tables.1.extra",
        "training.max_epochs",
        "training.batch_size",
    } <= where
    assert svc.list_generators().items == []


def test_missing_files_and_columns_are_listed(svc, spec) -> None:
    spec["tables"][0]["text_columns"] = ["biography"]
    spec["tables"].append({"name": "orders", "path": "/nonexistent/orders.csv"})
    with pytest.raises(errors.InvalidSpec) as raised:
        svc.create_generator(spec)
    assert len(raised.value.problems) == 2
    assert svc.list_generators().items == []


def test_unknown_and_ambiguous_ids(svc, spec) -> None:
    gid = svc.create_generator(spec)
    assert svc.resolve(str(gid)[:8]) == gid
    assert svc.resolve(str(gid).upper()) == gid
    assert (
        codes_of(lambda: svc.get_view("00000000-0000-0000-0000-000000000000"))
        == "unknown_generator"
    )
    assert codes_of(lambda: svc.get_view(str(gid)[:7])) == "unknown_generator"
    assert codes_of(lambda: svc.get_view("zzzzzzzzzz")) == "unknown_generator"


def test_ambiguous_prefix_is_reported(svc, spec, monkeypatch) -> None:
    gid = svc.create_generator(spec)
    twin = type(gid)(str(gid)[:9] + ("0" if str(gid)[9] != "0" else "1") + str(gid)[10:])
    monkeypatch.setattr(svc.store, "ids_starting_with", lambda prefix, limit: [gid, twin])
    assert codes_of(lambda: svc.resolve(str(gid)[:8])) == "ambiguous_id"


def test_stop_and_cancel_codes_through_the_service(svc, spec) -> None:
    gid = svc.create_generator(spec)
    assert codes_of(lambda: svc.request_stop(gid, "text:nope")) == "unknown_phase"
    view = svc.request_stop(gid, "text:people", requested_by="alice")
    assert view.phases[1].stop_requested and view.phases[1].state == "pending"
    svc.cancel(gid)
    assert codes_of(lambda: svc.request_stop(gid, "tabular")) == "generator_cancelled"
    before = len(svc.history(gid))
    assert svc.cancel(gid).state == "cancelled"
    assert len(svc.history(gid)) == before


def test_continue_training_needs_a_succeeded_parent(svc, spec) -> None:
    gid = svc.create_generator(spec)
    assert codes_of(lambda: svc.continue_training(gid)) == "parent_not_succeeded"
    svc.cancel(gid)
    assert codes_of(lambda: svc.continue_training(gid)) == "parent_not_succeeded"
    assert len(svc.list_generators().items) == 1


def test_continue_training_records_lineage(svc, spec) -> None:
    gid = svc.create_generator(spec)
    for phase in ("tabular", "text:people"):
        a = svc.start_phase(gid, phase, "w")
        svc.finish_phase(
            gid,
            phase,
            a,
            reasons=[],
            epoch=2,
            step=8,
            elapsed_s=1.0,
            checkpoint={"id": f"{phase[:3]}-e2", "epoch": 2, "step": 8},
        )
    for step in ("synthesis", "report"):
        svc.finish_step(gid, step, svc.start_step(gid, step, "w"), {})
    child = svc.continue_training(gid, {"training": {"max_epochs": 80}})
    view = svc.get_view(child)
    assert view.parent == gid
    assert view.spec["training"]["max_epochs"] == 80
    assert [p.resumed_from for p in view.phases] == ["tab-e2", "tex-e2"]
    created = svc.history(child)[0]
    assert created.type == "Created" and created.data["parent"] == gid
    assert created.data["phases"][0]["resume_from"]["generator"] == str(gid)


def test_conflict_after_retries_are_exhausted(svc, spec) -> None:
    gid = svc.create_generator(spec)

    def always_conflicting(_generator_id, _command):
        raise ConcurrentWrite("race")

    svc.store.update = always_conflicting
    assert codes_of(lambda: svc.request_stop(gid, "tabular")) == "conflict"


def test_format_problems_and_table_problems_are_listed_together(svc, spec, tmp_path) -> None:
    spec["foo"] = 1
    spec["training"] = {"max_epochs": "many"}
    spec["tables"].append({"name": "gone", "path": str(tmp_path / "nope.csv"), "colour": "red"})
    spec["tables"].append({"name": "people", "path": "people.csv"})
    spec["synthesis"] = {"rows": {"nosuch": 5}}
    with pytest.raises(errors.InvalidSpec) as raised:
        svc.create_generator(spec, base_dir=tmp_path)
    problems = raised.value.problems
    assert sorted(p.split(":")[0] for p in problems) == [
        "foo",
        "synthesis.rows",
        "tables",
        "tables.1.colour",
        "tables.gone.path",
        "training.max_epochs",
    ]
    nope = str(tmp_path / "nope.csv")
    assert problems[-1] == f"tables.gone.path: {nope!r}: no such file"
    assert svc.list_generators().items == []


def test_view_at_a_version_that_does_not_exist(svc, spec) -> None:
    gid = svc.create_generator(spec)
    assert codes_of(lambda: svc.get_view(gid, at_version=0)) == "unknown_generator"
    assert svc.get_view(gid, at_version=1).version == 1


def test_an_unknown_engine_is_rejected_before_anything_is_written(spec) -> None:
    svc = build_service("memory://", "/tmp/unused")
    spec["engine"] = "nope"
    with pytest.raises(errors.InvalidSpec) as raised:
        svc.create_generator(spec)
    assert raised.value.problems[0].startswith("engine: unknown engine 'nope'")
    assert svc.list_generators().items == []


def test_a_view_is_a_copy_that_cannot_change_the_stored_generator(svc, spec) -> None:
    gid = svc.create_generator(spec)
    view = svc.get_view(gid)
    view.spec["training"]["max_epochs"] = 1
    view.spec["tables"].clear()
    assert svc.get_view(gid).spec["training"]["max_epochs"] == 50
    assert svc.get_view(gid).spec["tables"]


def test_takeovers_and_heartbeats_name_their_phase_or_step_in_the_history(svc, spec) -> None:
    gid = svc.create_generator(spec)
    attempt = svc.start_phase(gid, "tabular", "w1", lease_s=5)
    svc.heartbeat(gid, "tabular", attempt)
    svc.take_over(gid, "tabular", "w2", datetime.now(UTC) + timedelta(hours=1), lease_s=5)
    beat, taken = svc.history(gid)[-2:]
    assert (beat.type, beat.phase, beat.pipeline_step) == ("Heartbeat", "tabular", None)
    assert (taken.type, taken.phase, taken.pipeline_step) == ("TakenOver", "tabular", None)
