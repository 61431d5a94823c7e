"""Notes and limitations: "Anonymization generators do not involve model training, so this
feature does not apply to them." """

import pytest

from ffwd.domain import errors
from tests.e2e.helpers import make_spec


@pytest.mark.parametrize("phase_id", ["tabular", "text:customers", "anything"])
def test_a_stop_on_an_anonymization_generator_is_not_applicable(svc, tables_dir, phase_id: str):
    gid = svc.create_generator(make_spec(kind="anonymization"), base_dir=tables_dir)
    before = svc.get_view(gid)
    assert before.kind == "anonymization"
    assert before.phases == []
    assert [s.id for s in before.steps] == ["anonymize", "report"]

    with pytest.raises(errors.NotApplicable) as e:
        svc.request_stop(gid, phase_id, requested_by="alice")
    assert e.value.code == "not_applicable"
    assert svc.get_view(gid) == before
    assert [entry.type for entry in svc.history(gid)] == ["Created"]
