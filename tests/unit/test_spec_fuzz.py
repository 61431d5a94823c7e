"""Whatever a user writes in a spec, the answer is a spec or `invalid_spec`, never a crash."""

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from ffwd.application.ports import DatasetProblem, TableInfo
from ffwd.application.spec import GeneratorSpec
from ffwd.application.spec_check import SpecCheck
from ffwd.domain.errors import InvalidSpec

WORDS = [
    "name",
    "kind",
    "engine",
    "tables",
    "path",
    "text_columns",
    "training",
    "synthesis",
    "rows",
    "anonymization",
    "columns",
    "technique",
    "max_epochs",
    "batch_size",
    "differential_privacy",
    "max_epsilon",
    "people",
    "a",
]
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-3, 3)
    | st.floats(allow_subnormal=False)
    | st.sampled_from(WORDS)
)
JSON = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.sampled_from(WORDS) | st.text(max_size=3), inner, max_size=4)
    ),
    max_leaves=12,
)
# Specs that are nearly right, so that checks deep inside are reached, not only the top.
TABLE = st.fixed_dictionaries(
    {"name": st.sampled_from(["people", "a", "", 5]), "path": st.sampled_from(["p.csv", "", 1])},
    optional={"text_columns": JSON, "extra": JSON},
)
NEAR = st.fixed_dictionaries(
    {"name": st.sampled_from(["g", "", None]), "tables": st.lists(TABLE, max_size=3) | JSON},
    optional={
        "kind": st.sampled_from(["training", "anonymization", "other"]),
        "training": JSON,
        "synthesis": st.fixed_dictionaries({"rows": JSON}) | JSON,
        "anonymization": st.fixed_dictionaries({"columns": JSON}) | JSON,
    },
)


class OneTable:
    """people.csv exists (columns age and bio); every other path does not."""

    def describe(self, path: str, max_bytes: int | None = None) -> TableInfo:
        if Path(path).name != "p.csv":
            raise DatasetProblem(f"no such file: {path}")
        return TableInfo(columns=["age", "bio"], rows=10, text_columns=["bio"])


@settings(max_examples=500, deadline=None)
@given(raw=NEAR | JSON)
def test_any_spec_is_parsed_and_checked_or_rejected_with_its_problems(raw) -> None:
    check = SpecCheck(OneTable(), ["reference"])
    try:
        spec = check(raw, Path("."))
    except InvalidSpec as e:
        assert e.problems and all(isinstance(p, str) and p for p in e.problems)
    else:
        assert isinstance(spec, GeneratorSpec)
