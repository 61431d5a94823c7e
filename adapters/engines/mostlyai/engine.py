"""mostlyai-engine as a training engine: TabularARGN for the tabular phase, its language model
for each text phase, its generation for synthesis (ADR 0015).

Each table of a phase attempt gets one engine workspace,
`{data}/mostlyai/{generator}/{phase}/a{attempt}/{table}/` (split, statistics, encoded data, the
model store with the best checkpoint, and the `datasets` cache): an attempt that a takeover
made stale never touches the workspace of the attempt after it. The engine, torch and pandas
are imported only when a phase trains or synthesizes.
"""

import csv
import json
import math
import os
import shutil
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from ffwd.adapters.checkpoints import phase_dir, safe_component
from ffwd.adapters.engines.mostlyai.datasets_cache import cache_in
from ffwd.adapters.engines.mostlyai.privacy import (
    EngineEpsilon,
    engine_sampling,
    resumed_history,
)
from ffwd.adapters.engines.mostlyai.relay import Kept, Relay
from ffwd.adapters.privacy.rdp import OPACUS_ORDERS, RdpAccountant
from ffwd.application.control import PhaseControl
from ffwd.application.privacy import Sampling, held_out, plan_privacy
from ffwd.application.spec import GeneratorSpec, TableSpec, TrainingSpec
from ffwd.application.training import (
    Control,
    PhaseInterrupted,
    PhaseJob,
    PhaseOutcome,
    checkpoint_id,
)
from ffwd.domain import reasons as why

DISTRIBUTION = "mostlyai-engine"
SUPPORTED = ">=2.7.3,<2.8"  # the versions whose `stopExecution` the contract test checked
_LOWEST, _BELOW = (2, 7, 3), (2, 8)
TABULAR, TEXT = "tabular", "text"
ROW_KEY = "__ffwd_row"  # joins a text model's rows to their tabular context
META = "ffwd.json"
# Our control enforces the epoch limit; the engine's own (it stops past `max_epochs`) is a net.
ENGINE_EPOCH_MARGIN = 1


def installed() -> bool:
    """Whether mostlyai-engine is installed (found without importing it)."""
    try:
        metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        return False
    return True


def check_version() -> str:
    """The installed engine's version, or RuntimeError when it is missing or untested."""
    try:
        version = metadata.version(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise RuntimeError(
            "the 'mostlyai' engine needs mostlyai-engine: see README, 'Real engines'"
        ) from None
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    if not _LOWEST <= parts < _BELOW:
        raise RuntimeError(
            f"mostlyai-engine {version} is not supported ({SUPPORTED}): its undocumented "
            "stopExecution flag is checked only for those versions"
        )
    return version


@dataclass(frozen=True)
class Unit:
    """One engine model of a phase: a table's non-text columns, or its text columns with the
    non-text ones as context."""

    table: TableSpec
    kind: str
    columns: list[str]
    context: list[str]
    all_columns: list[str]


class MostlyAIEngine:
    """The `TrainingEngine` port on mostlyai-engine (extra `ffwd[mostlyai]`)."""

    name = "mostlyai"

    def __init__(
        self,
        root: str,
        *,
        tabular_model: str = "MOSTLY_AI/Small",
        language_model: str = "MOSTLY_AI/LSTMFromScratch-3m",
        device: str | None = None,
        accountant: RdpAccountant | None = None,
    ) -> None:
        self.root = Path(root) / "mostlyai"
        self.tabular_model = tabular_model
        self.language_model = language_model
        self.device = device
        # The engine's DP-SGD is accounted by Opacus: the noise is chosen at Opacus' orders.
        self.accountant = accountant or RdpAccountant(OPACUS_ORDERS)

    def privacy_samplings(self, rows: Sequence[int], training: TrainingSpec) -> list[Sampling]:
        """How each table's model samples under DP (one model, and ledger, per table), with
        the tenth of the budget that value protection may spend set aside: for the spec
        check."""
        dp = training.differential_privacy
        reserved = dp.max_epsilon / 10 if dp else 0.0
        split = training.validation_split
        return [
            engine_sampling(r - held_out(r, split), training.batch_size, reserved) for r in rows
        ]

    # Training.

    def train(self, job: PhaseJob, control: Control) -> PhaseOutcome:
        """Train every table of the phase until the control says stop; on cancel the phase's
        workspace is deleted and PhaseInterrupted passes through."""
        check_version()
        folder = self.attempt_folder(job.generator_id, job.phase_id, job.attempt)
        try:
            return self._train(job, control, folder)
        except PhaseInterrupted:
            shutil.rmtree(folder, ignore_errors=True)
            raise

    def _train(self, job: PhaseJob, control: Control, folder: Path) -> PhaseOutcome:
        import pandas as pd

        units = _units(job)
        frames = {u.table.name: pd.read_csv(u.table.path) for u in units}
        many = len(units) > 1
        epoch = step = 0
        reasons: list[str] = []
        kept: dict[str, dict[str, Any]] = {}
        relays = []
        for unit in units:
            workspace = folder / safe_component(unit.table.name, "table name")
            parent = self._parent_workspace(job, unit)
            start = self._prepare(job, unit, frames[unit.table.name], workspace, parent)
            relay = self._relay(job.training, control, workspace, start, many, epoch, step)
            self._fit(job, unit, workspace, relay, resume=parent is not None)
            found = self._kept(job.training, unit, workspace, relay)
            kept[unit.table.name] = found.as_dict()
            reasons += relay.reasons if relay.stopped else relay.engine_reasons()
            epoch, step = epoch + relay.epoch, step + relay.step
            relays.append(relay)
        return _outcome(job, kept, relays, epoch, step, reasons)

    def _prepare(
        self, job: PhaseJob, unit: Unit, frame, workspace: Path, parent: Path | None
    ) -> Kept | None:
        """A fresh workspace: split, statistics (or the parent's), encoded data. Returns the
        resumed checkpoint, if any."""
        from mostlyai.engine import analyze, encode, set_random_state, split
        from mostlyai.engine.domain import ModelType

        shutil.rmtree(workspace, ignore_errors=True)
        workspace.mkdir(parents=True)
        start = _resume_store(parent, workspace, job) if parent is not None else None
        set_random_state(job.seed)
        training = job.training
        trn_val = 1 - training.validation_split
        if unit.kind == TABULAR:
            split(
                tgt_data=frame[unit.columns],
                model_type=ModelType.tabular,
                trn_val_split=trn_val,
                workspace_dir=workspace,
            )
        else:
            text_types = dict.fromkeys(unit.columns, "LANGUAGE_TEXT")
            target = frame[unit.columns].copy()
            context = None
            if unit.context:
                target.insert(0, ROW_KEY, range(len(frame)))
                context = frame[unit.context].copy()
                context.insert(0, ROW_KEY, range(len(frame)))
            split(
                tgt_data=target,
                ctx_data=context,
                tgt_context_key=ROW_KEY if unit.context else None,
                ctx_primary_key=ROW_KEY if unit.context else None,
                tgt_encoding_types=text_types,
                model_type=ModelType.language,
                trn_val_split=trn_val,
                workspace_dir=workspace,
            )
        if start is None:  # a resumed model keeps its parent's statistics
            analyze(
                value_protection=True,
                differential_privacy=_dp_config(training),
                workspace_dir=workspace,
            )
        encode(workspace_dir=workspace)
        _write_meta(workspace, unit, len(frame), training, start)
        return start

    def _relay(
        self,
        training: TrainingSpec,
        control: Control,
        workspace: Path,
        start: Kept | None,
        many: bool,
        epoch_offset: int,
        step_offset: int,
    ) -> Relay:
        dp = training.differential_privacy
        epsilon = None
        if dp is not None:
            stats = _stats(workspace)
            protection = stats["value_protection_epsilon"]
            sampling = engine_sampling(int(stats["trn_rows"]), training.batch_size, protection)
            accountant_file = workspace / "ModelStore" / "model-data" / "dp-accountant.pt"
            history = resumed_history(accountant_file if start else None)
            plan = plan_privacy(
                dp,
                training,
                sampling,
                self.accountant,
                epoch=start.epoch if start else 0,
                step=start.step if start else 0,
                spent=history,
            )
            epsilon = EngineEpsilon(
                plan.noise_multiplier, sampling.rate, dp.delta, protection, history
            )
            planned = getattr(control, "privacy", None)
            if planned is not None:
                planned(plan.shifted(step_offset))
        policies = None
        if many:  # each table's own stops; the phase's control keeps manual stop and time
            policies = PhaseControl(
                training.model_copy(update={"max_training_time_s": None}),
                lambda _: None,
                progress_interval_s=math.inf,
            )
        return Relay(
            control,
            start_epoch=start.epoch if start else 0,
            start_step=start.step if start else 0,
            epsilon=epsilon,
            max_epsilon=dp.max_epsilon if dp else math.inf,
            policies=policies,
            epoch_offset=epoch_offset,
            step_offset=step_offset,
            engine_max_epochs=training.max_epochs + ENGINE_EPOCH_MARGIN,
        )

    def _fit(self, job: PhaseJob, unit: Unit, workspace: Path, relay: Relay, resume: bool) -> None:
        from mostlyai.engine import train
        from mostlyai.engine.domain import ModelStateStrategy

        training = job.training
        with cache_in(workspace / "datasets-cache"):
            train(
                model=self.tabular_model if unit.kind == TABULAR else self.language_model,
                max_epochs=training.max_epochs + ENGINE_EPOCH_MARGIN,
                max_training_time=None,  # our control keeps the time limit
                batch_size=training.batch_size,
                gradient_accumulation_steps=1,
                differential_privacy=_dp_config(training, _noise(relay)),
                model_state_strategy=(
                    ModelStateStrategy.resume if resume else ModelStateStrategy.reset
                ),
                device=self.device,
                workspace_dir=workspace,
                update_progress=relay,
            )
        # a second copy of the encoded rows, no longer needed once the model is trained
        shutil.rmtree(workspace / "datasets-cache", ignore_errors=True)

    def _kept(self, training: TrainingSpec, unit: Unit, workspace: Path, relay: Relay) -> Kept:
        """The engine's kept checkpoint; a phase whose only weights are over the privacy
        budget fails, and those weights are deleted."""
        kept = relay.kept
        if kept is None:
            raise ValueError(
                f"mostlyai-engine kept no model for table {unit.table.name!r}: too few rows to "
                "split into training and validation data"
            )
        dp = training.differential_privacy
        if dp is not None and kept.epsilon is not None and kept.epsilon > dp.max_epsilon:
            shutil.rmtree(workspace / "ModelStore" / "model-data", ignore_errors=True)
            raise ValueError(
                f"differential_privacy.max_epsilon={dp.max_epsilon} ran out before mostlyai-engine "
                f"kept a checkpoint for table {unit.table.name!r}: the only weights it saved "
                f"(step {kept.step}) spent epsilon {kept.epsilon:.3g}, so they were deleted. "
                "Raise max_epsilon or noise_multiplier (or leave it out to have it chosen for "
                "the budget), or train on more rows."
            )
        meta = _read_meta(workspace)
        meta["kept"] = kept.as_dict()
        _write_json(workspace / META, meta)
        return kept

    def _parent_workspace(self, job: PhaseJob, unit: Unit) -> Path | None:
        parent = job.resume_from
        if not parent:
            return None
        folder = self.kept_folder(parent["generator"], job.phase_id, parent)
        workspace = folder / safe_component(unit.table.name, "table name")
        if not (workspace / META).is_file():
            raise ValueError(
                f"no mostlyai-engine checkpoint of phase {job.phase_id} for table "
                f"{unit.table.name!r} in generator {parent['generator']}"
            )
        return workspace

    # Synthesis and discard.

    def synthesize(
        self,
        generator_id: str,
        spec: GeneratorSpec,
        checkpoints: Mapping[str, dict[str, Any]],
        out_dir: str,
    ) -> dict[str, str]:
        """One CSV per table: the tabular model's rows, the text model's columns generated
        with those rows as context."""
        check_version()
        Path(out_dir).mkdir(parents=True, exist_ok=True)
        paths = {}
        for table in spec.tables:
            name = safe_component(table.name, "table name")
            tabular = self.kept_folder(generator_id, TABULAR, checkpoints.get(TABULAR)) / name
            text_phase = f"{TEXT}:{table.name}"
            text = self.kept_folder(generator_id, text_phase, checkpoints.get(text_phase)) / name
            parts = [w for w in (tabular, text) if (w / META).is_file()]
            if not parts:
                raise ValueError(f"no mostlyai-engine model for table {table.name!r}")
            meta = _read_meta(parts[0])
            rows = spec.synthesis.rows.get(table.name, meta["rows"])
            frame = self._generate_table(tabular, text, checkpoints, table.name, rows)
            path = Path(out_dir) / f"{name}.csv"
            _write_csv(path, frame, meta["columns"])
            paths[table.name] = str(path)
        return paths

    def _generate_table(self, tabular: Path, text: Path, checkpoints, table: str, rows: int):
        import pandas as pd
        from mostlyai.engine import generate
        from mostlyai.engine._common import load_generated_data

        frame = pd.DataFrame(index=range(rows))
        if TABULAR in checkpoints and (tabular / META).is_file():
            with cache_in(tabular / "datasets-cache"):
                generate(sample_size=rows, device=self.device, workspace_dir=tabular)
            frame = load_generated_data(tabular).reset_index(drop=True)
        phase = f"{TEXT}:{table}"
        if phase in checkpoints and (text / META).is_file():
            context_columns = _read_meta(text)["context_columns"]
            with cache_in(text / "datasets-cache"):
                if context_columns:
                    context = frame[context_columns].copy()
                    context.insert(0, ROW_KEY, range(len(context)))
                    generate(ctx_data=context, device=self.device, workspace_dir=text)
                else:
                    generate(sample_size=rows, device=self.device, workspace_dir=text)
            written = load_generated_data(text)
            if ROW_KEY in written:
                written = written.sort_values(ROW_KEY).drop(columns=[ROW_KEY])
            for column in written.columns:
                frame[column] = written[column].to_numpy()[: len(frame)]
        return frame

    def discard(self, generator_id: str) -> None:
        shutil.rmtree(self.root / safe_component(generator_id, "generator id"), ignore_errors=True)

    def phase_folder(self, generator_id: str, phase_id: str) -> Path:
        return self.root / safe_component(generator_id, "generator id") / phase_dir(phase_id)

    def attempt_folder(self, generator_id: str, phase_id: str, attempt: int) -> Path:
        return self.phase_folder(generator_id, phase_id) / f"a{int(attempt)}"

    def kept_folder(
        self, generator_id: str, phase_id: str, checkpoint: Mapping[str, Any] | None
    ) -> Path:
        """Where the attempt that kept `checkpoint` trained (a checkpoint from before
        attempts had folders of their own names none: the phase's folder)."""
        attempt = (checkpoint or {}).get("attempt")
        if attempt is None:
            return self.phase_folder(generator_id, phase_id)
        return self.attempt_folder(generator_id, phase_id, attempt)


def _units(job: PhaseJob) -> list[Unit]:
    units = []
    for table in job.tables:
        columns = _header(table.path)
        text = [c for c in columns if c in set(table.text_columns or [])]
        other = [c for c in columns if c not in set(text)]
        if job.kind == TABULAR and other:
            units.append(Unit(table, TABULAR, other, [], columns))
        elif job.kind == TEXT and text:
            units.append(Unit(table, TEXT, text, other, columns))
    if not units:
        raise ValueError(f"phase {job.phase_id} has no columns for mostlyai-engine to train")
    return units


def _header(path: str) -> list[str]:
    with open(path, newline="", encoding="utf-8") as f:
        return next(csv.reader(f), [])


def _dp_config(training: TrainingSpec, noise_multiplier: float | None = None):
    """Our privacy spec in the engine's terms; a tenth of the budget goes to value protection
    (the rare categories and value ranges its analysis keeps). The engine trains at the noise
    multiplier it is given (it chooses none itself, ADR 0022): ours, chosen for the budget;
    its analysis uses none."""
    from mostlyai.engine.domain import DifferentialPrivacyConfig

    dp = training.differential_privacy
    if dp is None:
        return None
    noise = {} if noise_multiplier is None else {"noise_multiplier": noise_multiplier}
    return DifferentialPrivacyConfig(
        max_epsilon=dp.max_epsilon,
        delta=dp.delta,
        max_grad_norm=dp.max_grad_norm,
        value_protection_epsilon=dp.max_epsilon / 10,
        **noise,
    )


def _noise(relay: Relay) -> float | None:
    """The noise multiplier the relay accounts with (None without DP)."""
    return relay.epsilon.noise_multiplier if isinstance(relay.epsilon, EngineEpsilon) else None


def _stats(workspace: Path) -> dict[str, float]:
    store = workspace / "ModelStore"
    target = json.loads((store / "tgt-stats" / "stats.json").read_text())
    context_file = store / "ctx-stats" / "stats.json"
    context = json.loads(context_file.read_text()) if context_file.is_file() else {}
    spent = (target.get("value_protection_epsilon_spent") or 0.0) + (
        context.get("value_protection_epsilon_spent") or 0.0
    )
    return {"trn_rows": target["no_of_training_records"], "value_protection_epsilon": spent}


def _resume_store(parent: Path, workspace: Path, job: PhaseJob) -> Kept:
    """Copy the parent's model store; its progress log ends at the kept checkpoint, so the
    engine resumes the counters, optimizer and privacy accountant saved with those weights."""
    import pandas as pd

    meta = _read_meta(parent)
    private = job.training.differential_privacy is not None
    if private and not meta["private"]:
        raise ValueError(
            "a checkpoint trained without differential privacy cannot continue with it: "
            "its privacy is already unbounded"
        )
    shutil.copytree(parent / "ModelStore", workspace / "ModelStore")
    log = workspace / "ModelStore" / "model-data" / "progress-messages.csv"
    if log.is_file():
        messages = pd.read_csv(log)
        marks = messages.index[messages["is_checkpoint"].fillna(0).astype(int) == 1]
        if len(marks):
            messages.iloc[: marks[-1] + 1].to_csv(log, index=False)
    kept = meta["kept"]
    return Kept(kept["epoch"], kept["step"], kept["val_loss"], kept["epsilon"])


def _outcome(
    job: PhaseJob,
    kept: dict[str, dict[str, Any]],
    relays: list[Relay],
    epoch: int,
    step: int,
    reasons,
) -> PhaseOutcome:
    losses = [k["val_loss"] for k in kept.values() if k["val_loss"] is not None]
    spent = [k["epsilon"] for k in kept.values() if k["epsilon"] is not None]
    epochs = sum(k["epoch"] for k in kept.values())
    steps = sum(k["step"] for k in kept.values())
    checkpoint = {
        "id": checkpoint_id(job, epochs, steps),
        "attempt": job.attempt,
        "epoch": epochs,
        "step": steps,
        "val_loss": sum(losses) / len(losses) if losses else None,
        "epsilon": max(spent) if spent else None,
        "engine": MostlyAIEngine.name,
        "tables": kept,
    }
    last_losses = [r.val_losses[-1] for r in relays if r.val_losses]
    now = [r.epsilon(r.step - r.start_step) for r in relays if r.epsilon is not None]
    return PhaseOutcome(
        checkpoint=checkpoint,
        epoch=epoch,
        step=step,
        val_loss=sum(last_losses) / len(last_losses) if last_losses else None,
        epsilon=max(now) if now else None,
        reasons=tuple(r for r in why.ORDER if r in set(reasons)),
    )


def _write_meta(
    workspace: Path, unit: Unit, rows: int, training: TrainingSpec, start: Kept | None
) -> None:
    _write_json(
        workspace / META,
        {
            "table": unit.table.name,
            "kind": unit.kind,
            "columns": unit.all_columns,
            "model_columns": unit.columns,
            "context_columns": unit.context,
            "rows": rows,
            "private": training.differential_privacy is not None,
            "kept": start.as_dict() if start else None,
        },
    )


def _read_meta(workspace: Path) -> dict[str, Any]:
    return json.loads((workspace / META).read_text())


def _write_json(path: Path, value: dict[str, Any]) -> None:
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(value, f, sort_keys=True)
    os.replace(temp, path)


def _write_csv(path: Path, frame, columns: list[str]) -> None:
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"mostlyai-engine generated no columns {missing} for {path.stem!r}")
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        frame[columns].to_csv(temp, index=False)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
