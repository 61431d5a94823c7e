"""The generator spec: what a user asks for, validated at the edge with every problem listed."""

import itertools
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ffwd.domain.errors import InvalidSpec

Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]
Positive = Annotated[float, Field(strict=True, gt=0)]
# Numbers are numbers: JSON `true` or "3" is not taken for 1 or 3.0 (pydantic's lax mode would).
Number = Annotated[float, Field(strict=True)]
# A spec is at most ~8 levels deep and holds tens of values: far larger ones are refused before
# anything walks them (a YAML alias bomb, a deeply nested body).
MAX_DEPTH = 32
MAX_VALUES = 100_000


class Strict(BaseModel):
    # Built at first use, not at import: the spec's many models cost ~25 ms to build, which
    # a command that validates no spec (`ffwd stop`) should not pay.
    model_config = ConfigDict(extra="forbid", defer_build=True)


class DifferentialPrivacySpec(Strict):
    """DP-SGD within a budget. Without `noise_multiplier`, each phase chooses the smallest
    that pays for its planned training within `max_epsilon`: its epoch limit, or
    `planned_steps` optimizer steps for a phase its time limit will end first (ADR 0022)."""

    max_epsilon: Positive = 3.0
    delta: Annotated[float, Field(strict=True, gt=0, lt=1)] = 1e-5
    noise_multiplier: Positive | None = None
    max_grad_norm: Positive = 1.0
    planned_steps: Annotated[int, Field(ge=1)] | None = None

    @model_validator(mode="after")
    def _one_plan(self) -> "DifferentialPrivacySpec":
        if self.noise_multiplier is not None and self.planned_steps is not None:
            raise ValueError(
                "give either 'noise_multiplier' or 'planned_steps' (the steps a chosen noise "
                "multiplier pays for), not both"
            )
        return self


def _countable(value: float) -> float:
    if value > 1 and not value.is_integer():
        raise ValueError("a share of one (at most 1) or a whole number, as a cluster counts them")
    return value


Quantity = Annotated[float, Field(strict=True, ge=0, le=1_000_000), AfterValidator(_countable)]


class ResourceRequest(Strict):
    """What one part asks of a cluster that places it (`ffwd worker --ray`): logical CPUs,
    GPUs and memory. Plain workers run whatever they claim and ignore it (ADR 0027)."""

    cpus: Quantity | None = None
    gpus: Quantity | None = None
    memory_gb: Annotated[float, Field(strict=True, gt=0, le=1_000_000)] | None = None


class ResourcesSpec(ResourceRequest):
    """Every part's request, and the training phases' own by kind (merged over it)."""

    tabular: ResourceRequest | None = None
    text: ResourceRequest | None = None


class TrainingSpec(Strict):
    max_epochs: Annotated[int, Field(strict=True, ge=1)] = 50
    max_training_time_s: Positive | None = 600.0
    early_stopping_patience: Annotated[int, Field(strict=True, ge=1)] | None = 4
    early_stopping_min_delta: Annotated[float, Field(strict=True, ge=0)] = 1e-3
    differential_privacy: DifferentialPrivacySpec | None = None
    batch_size: Annotated[int, Field(strict=True, ge=1)] = 64
    learning_rate: Positive = 0.05
    validation_split: Annotated[float, Field(strict=True, gt=0, le=0.5)] = 0.1
    max_parallel_phases: Annotated[int, Field(strict=True, ge=1)] = 1
    # The phases' randomness (split, initial weights, batches, DP noise): repeatable runs to
    # compare settings with; by default each generator's own, from its id.
    seed: Annotated[int, Field(strict=True, ge=0, lt=2**31)] | None = None
    # Where a cluster places the phases (ADR 0027); none: one CPU each, as a worker runs them.
    resources: ResourcesSpec | None = None


class TableSpec(Strict):
    name: Name
    path: Annotated[str, Field(min_length=1)]
    text_columns: list[str] | None = None


class SynthesisSpec(Strict):
    rows: dict[str, Annotated[int, Field(strict=True, ge=1)]] = {}


Fraction = Annotated[float, Field(strict=True, ge=0, le=1)]
Share = Annotated[float, Field(strict=True, gt=0, lt=1)]
Sampling = Literal["weighted", "uniform"]
MockProvider = Literal[
    "name", "first_name", "last_name", "email", "safe_email", "user_name", "phone_number",
    "street_address", "city", "country", "postcode", "company", "job", "iban",
    "credit_card_number", "ssn", "uuid4", "ipv4", "url", "license_plate",
    "word", "sentence", "paragraph", "text", "date", "date_of_birth",
]  # fmt: skip


class Mask(Strict):
    """Replace characters with `symbol`: `characters` of them (all when null) from `direction`."""

    technique: Literal["mask"]
    characters: Annotated[int, Field(strict=True, ge=1)] | None = None
    direction: Literal["left", "right"] = "left"
    symbol: Annotated[str, Field(min_length=1, max_length=1)] = "*"


class Hash(Strict):
    """Keyed hashing (HMAC-SHA256, base64): the same value and key give the same hash, so a key
    hashed in two tables still joins. The key is `key`, or read from the variable `key_env`."""

    technique: Literal["hash"]
    key: Annotated[str, Field(min_length=1)] | None = None
    key_env: Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")] | None = None
    salt: str | None = None

    @model_validator(mode="after")
    def _one_key(self) -> "Hash":
        if (self.key is None) == (self.key_env is None):
            raise ValueError("give exactly one of 'key' and 'key_env'")
        return self


class PerturbNumber(Strict):
    """Mix each number with noise: `alpha` 0 keeps it, 1 replaces it. `weighted` keeps the
    column's distribution; `uniform` draws from `range` (default: the column's min and max)."""

    technique: Literal["perturb_number"]
    alpha: Fraction = 0.5
    mode: Sampling = "weighted"
    range: tuple[Number, Number] | None = None
    decimals: Annotated[int, Field(strict=True, ge=0, le=12)] | None = None

    @model_validator(mode="after")
    def _range(self) -> "PerturbNumber":
        _check_range(self.mode, self.range)
        return self


class PerturbDate(Strict):
    """As perturb_number, on the days of ISO dates; `range` is two dates."""

    technique: Literal["perturb_date"]
    alpha: Fraction = 0.5
    mode: Sampling = "weighted"
    range: tuple[date, date] | None = None

    @model_validator(mode="after")
    def _range(self) -> "PerturbDate":
        _check_range(self.mode, self.range)
        return self


class PerturbCategory(Strict):
    """Replace each value, with probability `alpha`, by a category drawn by the column's
    frequencies (`weighted`) or evenly (`uniform`); `frequencies` gives the categories."""

    technique: Literal["perturb_category"]
    alpha: Fraction = 0.5
    mode: Sampling = "weighted"
    frequencies: Annotated[dict[str, Positive], Field(min_length=1)] | None = None


class Bin(Strict):
    """Replace each number by its interval: `bins` equal-width bins, or the edges given."""

    technique: Literal["bin"]
    bins: (
        Annotated[int, Field(strict=True, ge=1, le=1000)]
        | Annotated[list[Number], Field(min_length=2)]
    ) = 10

    @model_validator(mode="after")
    def _increasing(self) -> "Bin":
        edges = self.bins
        if isinstance(edges, list) and any(b <= a for a, b in itertools.pairwise(edges)):
            raise ValueError("bins: the edges must increase strictly")
        return self


class Swap(Strict):
    """Swap values between rows, each row taking part with probability `alpha`."""

    technique: Literal["swap"]
    alpha: Fraction = 0.5


class TopBottomCode(Strict):
    """Clip numbers: at the `q`/2 and 1 - `q`/2 quantiles, or at `lower` and/or `upper`."""

    technique: Literal["top_bottom_code"]
    q: Share | None = None
    lower: Number | None = None
    upper: Number | None = None

    @model_validator(mode="after")
    def _limits(self) -> "TopBottomCode":
        bounds = self.lower is not None or self.upper is not None
        if self.q is not None and bounds:
            raise ValueError("give either 'q' or 'lower'/'upper', not both")
        if self.lower is not None and self.upper is not None and self.lower >= self.upper:
            raise ValueError("'lower' must be below 'upper'")
        if self.q is None and not bounds:
            self.q = 0.1
        return self


class TopBottomCodeCategory(Strict):
    """Group rare categories into `other`: those with a share of at most `q`, or `categories`."""

    technique: Literal["top_bottom_code_category"]
    q: Share | None = None
    categories: Annotated[list[str], Field(min_length=1)] | None = None
    other: Annotated[str, Field(min_length=1)] = "OTHER"

    @model_validator(mode="after")
    def _which(self) -> "TopBottomCodeCategory":
        if self.q is not None and self.categories is not None:
            raise ValueError("give either 'q' or 'categories', not both")
        if self.q is None and self.categories is None:
            self.q = 0.05
        return self


class Mock(Strict):
    """Replace each value by a fake one from Faker's `provider`, in `locale` (default en_US)."""

    technique: Literal["mock"]
    provider: MockProvider
    locale: Annotated[str, Field(pattern=r"^[a-z]{2,3}(_[A-Z]{2})?$")] | None = None


class Null(Strict):
    """Suppress the column: every cell becomes `value` (default: empty)."""

    technique: Literal["null"]
    value: str = ""


Technique = Annotated[
    Mask
    | Hash
    | PerturbNumber
    | PerturbDate
    | PerturbCategory
    | Bin
    | Swap
    | TopBottomCode
    | TopBottomCodeCategory
    | Mock
    | Null,
    Field(discriminator="technique"),
]


def _check_range(mode: str, limits: tuple | None) -> None:
    if limits is None:
        return
    if mode != "uniform":
        raise ValueError("'range' only applies to mode 'uniform'")
    if limits[0] >= limits[1]:
        raise ValueError("'range' must be [low, high] with low below high")


class AnonymizationSpec(Strict):
    """Per table, per column: the technique and its options (ADR 0012). Columns not named are
    copied unchanged; `seed` makes every random technique repeatable."""

    seed: Annotated[int, Field(strict=True, ge=0, lt=2**32)] = 0
    columns: dict[Name, dict[Annotated[str, Field(min_length=1)], Technique]] = {}

    def problems(self, tables: Mapping[str, Sequence[str] | None]) -> list[str]:
        """Every table or column named here that the spec's tables do not have.

        `tables` maps each table of the spec to its columns (None: unreadable, not checked).
        """
        found = []
        for table, columns in self.columns.items():
            where = f"anonymization.columns.{table}"
            if table not in tables:
                found.append(f"{where}: no such table (tables: {sorted(tables)})")
                continue
            have = tables[table]
            missing = [] if have is None else [c for c in columns if c not in have]
            if missing:
                found.append(f"{where}: no such columns {missing}")
        return found


class GeneratorSpec(Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    kind: Literal["training", "anonymization"] = "training"
    engine: Name = "reference"
    tables: Annotated[list[TableSpec], Field(min_length=1)]
    training: TrainingSpec | None = None
    anonymization: AnonymizationSpec | None = None
    synthesis: SynthesisSpec = SynthesisSpec()

    @model_validator(mode="after")
    def _consistent(self) -> "GeneratorSpec":
        problems = _across_sections(self.model_dump(exclude_unset=True))
        if problems:
            raise ValueError("; ".join(problems))
        if self.kind == "training" and self.training is None:
            self.training = TrainingSpec()
        if self.kind == "anonymization" and self.anonymization is None:
            self.anonymization = AnonymizationSpec()
        return self

    def table(self, name: str) -> TableSpec:
        return next(t for t in self.tables if t.name == name)


def check_size(raw: Any, where: str = "spec") -> None:
    """InvalidSpec when `raw` nests deeper than MAX_DEPTH or holds more than MAX_VALUES values
    (shared ones counted each time they are reached); costs at most MAX_VALUES steps."""
    stack, seen = [(raw, 1)], 0
    while stack:
        value, depth = stack.pop()
        seen += 1
        if depth > MAX_DEPTH:
            raise InvalidSpec([f"{where}: nested deeper than {MAX_DEPTH} levels"])
        if seen > MAX_VALUES:
            raise InvalidSpec([f"{where}: more than {MAX_VALUES:,} values"])
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list | tuple):
            stack.extend((v, depth + 1) for v in value)


def parse_spec(raw: Any) -> GeneratorSpec:
    """A GeneratorSpec from a dict (or a parsed spec), or InvalidSpec listing every problem."""
    if isinstance(raw, GeneratorSpec):
        return raw
    if not isinstance(raw, dict):
        raise InvalidSpec([f"the spec must be an object, not {type(raw).__name__}"])
    check_size(raw)
    try:
        return GeneratorSpec.model_validate(raw)
    except ValidationError as e:
        # Pydantic checks across sections only once every field is valid, and then as one
        # error: they are listed here, one problem each, whatever else is wrong.
        problems = [_problem(err) for err in e.errors() if err["loc"] != ()]
        problems += _across_sections(raw)
        raise InvalidSpec(problems or [_problem(err) for err in e.errors()]) from None


def _across_sections(spec: dict[str, Any]) -> list[str]:
    """What one section of a spec says against another, as far as a raw spec can be read."""
    problems = []
    tables = spec.get("tables")
    listed = tables if isinstance(tables, list) else []
    # Only names that are text: a name of another type is its own problem, and never turned
    # into text here (it may be huge).
    names = [t["name"] for t in listed if isinstance(t, dict) and isinstance(t.get("name"), str)]
    if len(set(names)) != len(names):
        problems.append("tables: table names must be unique")
    synthesis = spec.get("synthesis")
    rows = synthesis.get("rows") if isinstance(synthesis, dict) else None
    keys = {k for k in rows if isinstance(k, str)} if isinstance(rows, dict) else set()
    unknown = sorted(keys - set(names))
    if unknown:
        problems.append(f"synthesis.rows: unknown tables {unknown}")
    kind = spec.get("kind", "training")
    if kind == "training" and spec.get("anonymization") is not None:
        problems.append("anonymization: only for kind 'anonymization'")
    if kind == "anonymization" and spec.get("training") is not None:
        problems.append("training: an anonymization generator does not train")
    return problems


def _problem(err: Any) -> str:
    where = ".".join(str(part) for part in err["loc"]) or "spec"
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"
