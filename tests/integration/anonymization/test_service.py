"""Anonymization generators through the service: the shipped sample spec runs to a report,
a stop is not applicable, a cancel during `anonymize` keeps nothing, a bad spec writes nothing."""

import csv
import json
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from uuid import UUID

import pytest
from dependency_injector import providers

from ffwd.adapters.cli.spec_file import load_spec_file
from ffwd.adapters.container import build_container, build_service
from ffwd.application.service import GeneratorService
from ffwd.domain import errors
from ffwd.domain.generator import Generator

SAMPLE = Path(__file__).resolve().parents[3] / "adapters" / "sample_data"
TIMEOUT_S = 60


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def svc(data_dir: Path) -> Iterator[GeneratorService]:
    service = build_service("memory://", str(data_dir))
    try:
        yield service
    finally:
        service.store.close()


def create_sample(svc: GeneratorService, **changes) -> UUID:
    raw, base = load_spec_file(str(SAMPLE / "anonymize.json"))
    return svc.create_generator(raw | changes, base_dir=base)


def read(path: str) -> list[list[str]]:
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def files_under(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def test_the_sample_spec_anonymizes_both_tables_and_reports_the_changes(svc: GeneratorService):
    gid = create_sample(svc)
    view = svc.run(gid)

    assert (view.kind, view.state, view.phases) == ("anonymization", "succeeded", [])
    assert [(s.id, s.state) for s in view.steps] == [
        ("anonymize", "succeeded"),
        ("report", "succeeded"),
    ]
    assert [e.type for e in svc.history(gid)] == [
        "Created", "Started", "StepStarted", "StepSucceeded", "StepStarted", "StepSucceeded",
        "Succeeded",
    ]  # fmt: skip
    anonymized = view.outputs["anonymized"]
    assert set(anonymized) == {"customers", "orders"}
    tables = {}
    for name, path in anonymized.items():
        assert Path(path).name == f"{name}.csv"
        original, tables[name] = read(str(SAMPLE / f"{name}.csv")), read(path)
        assert tables[name][0] == original[0]
        assert len(tables[name]) == len(original)
    # One key for customer_id in both tables: the orders still join their customers.
    assert {r[1] for r in tables["orders"][1:]} <= {r[0] for r in tables["customers"][1:]}

    report = json.loads(Path(view.outputs["report"]).read_text(encoding="utf-8"))
    assert Path(view.outputs["report_html"]).is_file()
    assert report["kind"] == "anonymization" and 0 < report["accuracy"] < 1
    customers = report["tables"]["customers"]["changes"]
    orders = report["tables"]["orders"]["changes"]
    assert {c: e["technique"] for c, e in customers.items()} == {
        "customer_id": "hash",
        "age": "bin",
        "segment": "perturb_category",
        "country": "top_bottom_code_category",
        "signup_date": "perturb_date",
        "income": "perturb_number",
        "bio": "mock",
    }
    assert customers["customer_id"]["summary"] == "hashed 100%"
    assert customers["age"]["summary"] == "binned into 6 bins (100% of cells changed)"
    assert customers["bio"]["summary"] == "mocked 100%"
    assert customers["country"]["grouped"] == ["Netherlands"]
    assert customers["income"]["mean_abs_change"] > 0
    assert orders["review"]["summary"] == "nulled 100% (empty)"
    assert orders["channel"]["same_values"] is True
    assert orders["status"] == {
        "technique": None,
        "changed": 0.0,
        "summary": "unchanged",
        "compared_as": "values",
    }
    assert report["tables"]["orders"]["columns"]["status"]["distance"] == 0


def test_the_same_spec_anonymizes_the_same_way_in_two_generators(svc: GeneratorService):
    first, second = svc.run(create_sample(svc)), svc.run(create_sample(svc))
    for table in ("customers", "orders"):
        a, b = first.outputs["anonymized"][table], second.outputs["anonymized"][table]
        assert a != b and Path(a).read_bytes() == Path(b).read_bytes()


@pytest.mark.parametrize("phase_id", ["tabular", "text:customers"])
def test_a_stop_is_not_applicable_and_writes_nothing(
    svc: GeneratorService, data_dir: Path, phase_id: str
):
    gid = create_sample(svc)
    before = len(svc.history(gid))
    with pytest.raises(errors.NotApplicable) as e:
        svc.request_stop(gid, phase_id, requested_by="alice")
    assert e.value.code == "not_applicable"
    assert len(svc.history(gid)) == before
    assert files_under(data_dir) == []
    view = svc.run(gid)
    assert view.state == "succeeded"
    with pytest.raises(errors.GeneratorAlreadyFinished):
        svc.cancel(gid)
    after = len(svc.history(gid))
    with pytest.raises(errors.NotApplicable):
        svc.request_stop(gid, phase_id)
    assert len(svc.history(gid)) == after


def test_a_cancel_when_anonymize_starts_keeps_nothing_and_starts_no_report(
    svc: GeneratorService, data_dir: Path
):
    gid = create_sample(svc)

    def cancel_at_anonymize(events) -> None:
        for e in events:
            if type(e) is Generator.StepStarted and e.pipeline_step == "anonymize":
                svc.cancel(gid, requested_by="alice")

    svc.subscribe(cancel_at_anonymize)
    view = svc.run(gid)

    assert view.state == "cancelled"
    assert [(s.id, s.state) for s in view.steps] == [
        ("anonymize", "cancelled"),
        ("report", "cancelled"),
    ]
    history = svc.history(gid)
    assert [e.pipeline_step for e in history if e.type == "StepStarted"] == ["anonymize"]
    assert "StepSucceeded" not in [e.type for e in history]
    assert not (data_dir / "outputs" / str(gid)).exists()
    assert files_under(data_dir) == []


class BlockingAnonymizer:
    """Writes part of its output, then waits until the test lets it finish."""

    def __init__(self) -> None:
        self.started, self.release = threading.Event(), threading.Event()

    def unavailable(self) -> str | None:
        return None

    def check(self, spec) -> list[str]:
        return []

    def anonymize(self, spec, out_dir: str) -> dict[str, str]:
        path = Path(out_dir) / "customers.csv"
        path.write_text("customer_id\nhalf-done\n", encoding="utf-8")
        self.started.set()
        assert self.release.wait(TIMEOUT_S)
        return {"customers": str(path)}


def test_a_cancel_from_another_thread_during_anonymize_deletes_its_output(
    data_dir: Path,
):
    container = build_container("memory://", str(data_dir))
    slow = BlockingAnonymizer()
    container.anonymizer.override(providers.Object(slow))
    svc = container.service()
    gid = create_sample(svc)
    runner = threading.Thread(target=svc.run, args=(gid,))
    runner.start()
    try:
        assert slow.started.wait(TIMEOUT_S)
        assert files_under(data_dir) != []
        view = svc.cancel(gid, requested_by="bob")
        assert view.state == "cancelled"
    finally:
        slow.release.set()
        runner.join(TIMEOUT_S)
    assert not runner.is_alive()
    view = svc.get_view(gid)
    assert [(s.id, s.state) for s in view.steps] == [
        ("anonymize", "cancelled"),
        ("report", "cancelled"),
    ]
    assert [e.pipeline_step for e in svc.history(gid) if e.type == "StepStarted"] == ["anonymize"]
    assert files_under(data_dir) == []
    svc.store.close()


@pytest.mark.parametrize(
    ("columns", "problem"),
    [
        (
            {"customers": {"age": {"technique": "blur"}}},
            "anonymization.columns.customers.age: Input tag 'blur'",
        ),
        (
            {"customers": {"age": {"technique": "bin", "edges": [0, 50, 100]}}},
            "anonymization.columns.customers.age.bin.edges: Extra inputs are not permitted",
        ),
        (
            {"customers": {"shoe_size": {"technique": "null"}}},
            "anonymization.columns.customers: no such columns ['shoe_size']",
        ),
        (
            {"suppliers": {"name": {"technique": "null"}}},
            "anonymization.columns.suppliers: no such table",
        ),
    ],
)
def test_a_bad_spec_is_rejected_before_anything_is_written(
    svc: GeneratorService, data_dir: Path, columns: dict, problem: str
):
    with pytest.raises(errors.InvalidSpec) as e:
        create_sample(svc, anonymization={"columns": columns})
    assert e.value.code == "invalid_spec"
    assert any(p.startswith(problem) for p in e.value.problems), e.value.problems
    assert svc.list_generators().items == []
    assert files_under(data_dir) == []


def test_a_column_that_no_longer_fits_its_technique_fails_the_step_and_writes_no_table(
    svc: GeneratorService, data_dir: Path, tmp_path: Path
):
    tables = tmp_path / "tables"
    tables.mkdir()
    for name in ("customers", "orders"):
        (tables / f"{name}.csv").write_bytes((SAMPLE / f"{name}.csv").read_bytes())
    raw, _ = load_spec_file(str(SAMPLE / "anonymize.json"))
    gid = svc.create_generator(raw, base_dir=tables)
    # The tables change between create and run: income and order_date now hold text.
    for name, column in (("customers", "income"), ("orders", "order_date")):
        rows = read(str(tables / f"{name}.csv"))
        rows[5][rows[0].index(column)] = "unknown"
        with (tables / f"{name}.csv").open("w", newline="", encoding="utf-8") as f:
            csv.writer(f).writerows(rows)

    view = svc.run(gid)

    assert view.state == "failed"
    anonymize = view.steps[0]
    assert (anonymize.id, anonymize.state) == ("anonymize", "failed")
    assert "customers.income: perturb_number needs numbers; row 5's value" in anonymize.error
    assert "orders.order_date: perturb_date needs ISO dates; row 5's value" in anonymize.error
    assert "unknown" not in anonymize.error  # the cell: an error never quotes the data
    assert [e.pipeline_step for e in svc.history(gid) if e.type == "StepStarted"] == ["anonymize"]
    assert [p for p in files_under(data_dir) if p.suffix in (".csv", ".json", ".html")] == []


def test_a_column_of_the_wrong_type_is_rejected_at_create(svc, data_dir):
    columns = {"customers": {"country": {"technique": "perturb_number"}}}
    with pytest.raises(errors.InvalidSpec) as e:
        create_sample(svc, anonymization={"columns": columns})
    assert e.value.problems == [
        "anonymization.columns.customers.country: perturb_number needs numbers; "
        "row 1's value is not one"
    ]
    assert svc.list_generators().items == [] and files_under(data_dir) == []


def test_without_its_extra_an_anonymization_generator_is_refused_at_create(
    svc, data_dir, monkeypatch
):
    # aindo-anonymize as if it were not installed: its import fails
    monkeypatch.setitem(sys.modules, "aindo", None)
    monkeypatch.setitem(sys.modules, "aindo.anonymize", None)
    columns = {"customers": {"nickname": {"technique": "swap"}}}
    with pytest.raises(errors.InvalidSpec) as e:
        create_sample(svc, anonymization={"columns": columns})
    assert e.value.problems[0] == (
        "kind: anonymization needs aindo-anonymize, which is not installed: "
        "pip install 'ffwd[anonymization]'"
    )
    # listed with the spec's own problems
    assert e.value.problems[1].startswith("anonymization.columns.customers: no such columns")
    assert svc.list_generators().items == [] and files_under(data_dir) == []
