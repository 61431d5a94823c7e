"""The reference engine: numpy models, real validation, DP-SGD; trains phases, synthesizes."""

from collections.abc import Mapping
from typing import Any

from ffwd.adapters.checkpoints import FileCheckpointStore
from ffwd.adapters.privacy.rdp import RdpAccountant
from ffwd.application.spec import GeneratorSpec
from ffwd.application.training import Control, PhaseJob, PhaseOutcome


class ReferenceEngine:
    """The embedded default engine (numpy only): the `TrainingEngine` port.

    Its first phase or synthesis loads numpy and sets its OpenBLAS to one thread for the
    process (see `blas`); registering the engine, or deleting its files, loads nothing.
    """

    name = "reference"

    def __init__(
        self, checkpoints: FileCheckpointStore, accountant: RdpAccountant | None = None
    ) -> None:
        self.checkpoints = checkpoints
        # Charges every step and chooses the noise for the budget (dp_accounting's RDP).
        self.accountant = accountant or RdpAccountant()

    def train(self, job: PhaseJob, control: Control) -> PhaseOutcome:
        """Train until the control says stop; PhaseInterrupted passes through."""
        from ffwd.adapters.engines.reference import work

        return work.train(self.checkpoints, job, control, self.accountant)

    def synthesize(
        self,
        generator_id: str,
        spec: GeneratorSpec,
        checkpoints: Mapping[str, dict[str, Any]],
        out_dir: str,
    ) -> dict[str, str]:
        """One CSV per table: tabular columns sampled in order, text columns filled in."""
        from ffwd.adapters.engines.reference import work

        return work.synthesize(self.checkpoints, generator_id, spec, checkpoints, out_dir)

    def discard(self, generator_id: str) -> None:
        self.checkpoints.delete_generator(generator_id)
