"""The generator spec: what a user asks for, validated at the edge with every problem listed."""

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from domain.errors import InvalidSpec

Name = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")]
Positive = Annotated[float, Field(gt=0)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class DifferentialPrivacySpec(Strict):
    max_epsilon: Positive = 3.0
    delta: Annotated[float, Field(gt=0, lt=1)] = 1e-5
    noise_multiplier: Positive = 1.0
    max_grad_norm: Positive = 1.0


class TrainingSpec(Strict):
    max_epochs: Annotated[int, Field(ge=1)] = 50
    max_training_time_s: Positive | None = 600.0
    early_stopping_patience: Annotated[int, Field(ge=1)] | None = 4
    early_stopping_min_delta: Annotated[float, Field(ge=0)] = 1e-3
    differential_privacy: DifferentialPrivacySpec | None = None
    batch_size: Annotated[int, Field(ge=1)] = 64
    learning_rate: Positive = 0.05
    validation_split: Annotated[float, Field(gt=0, le=0.5)] = 0.1
    max_parallel_phases: Annotated[int, Field(ge=1)] = 1


class TableSpec(Strict):
    name: Name
    path: Annotated[str, Field(min_length=1)]
    text_columns: list[str] | None = None


class SynthesisSpec(Strict):
    rows: dict[str, Annotated[int, Field(ge=1)]] = {}


class AnonymizationSpec(Strict):
    """Per table, per column: the technique and its options (see ADR on anonymization)."""

    columns: dict[str, dict[str, dict[str, Any]]] = {}


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
        problems = []
        names = [t.name for t in self.tables]
        if len(set(names)) != len(names):
            problems.append("tables: table names must be unique")
        unknown = sorted(set(self.synthesis.rows) - set(names))
        if unknown:
            problems.append(f"synthesis.rows: unknown tables {unknown}")
        if self.kind == "training" and self.anonymization is not None:
            problems.append("anonymization: only for kind 'anonymization'")
        if self.kind == "anonymization" and self.training is not None:
            problems.append("training: an anonymization generator does not train")
        if problems:
            raise ValueError("; ".join(problems))
        if self.kind == "training" and self.training is None:
            self.training = TrainingSpec()
        if self.kind == "anonymization" and self.anonymization is None:
            self.anonymization = AnonymizationSpec()
        return self

    def table(self, name: str) -> TableSpec:
        return next(t for t in self.tables if t.name == name)


def parse_spec(raw: Any) -> GeneratorSpec:
    """A GeneratorSpec from a dict (or a parsed spec), or InvalidSpec listing every problem."""
    if isinstance(raw, GeneratorSpec):
        return raw
    if not isinstance(raw, dict):
        raise InvalidSpec([f"the spec must be an object, not {type(raw).__name__}"])
    try:
        return GeneratorSpec.model_validate(raw)
    except ValidationError as e:
        raise InvalidSpec([_problem(err) for err in e.errors()]) from None


def _problem(err: Any) -> str:
    where = ".".join(str(part) for part in err["loc"]) or "spec"
    message = err["msg"].removeprefix("Value error, ")
    return f"{where}: {message}"
