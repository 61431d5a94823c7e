"""Every error a user can cause, each with a stable code from the public contract."""


class FfwdError(Exception):
    """Base of every error ffwd raises on purpose: `code` is stable, `message` explains."""

    code = "error"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UnknownGenerator(FfwdError):
    code = "unknown_generator"


class UnknownPhase(FfwdError):
    code = "unknown_phase"


class AmbiguousId(FfwdError):
    code = "ambiguous_id"


class InvalidSpec(FfwdError):
    """An invalid spec, with every problem found listed."""

    code = "invalid_spec"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


class InvalidQuery(FfwdError):
    """A list asked for with a filter, a limit or a cursor that cannot be used."""

    code = "invalid_query"


class PhaseAlreadyFinished(FfwdError):
    code = "phase_already_finished"


class GeneratorAlreadyFinished(FfwdError):
    code = "generator_already_finished"


class GeneratorCancelled(FfwdError):
    code = "generator_cancelled"


class NotApplicable(FfwdError):
    code = "not_applicable"


class ParentNotSucceeded(FfwdError):
    code = "parent_not_succeeded"


class StaleRunner(FfwdError):
    code = "stale_runner"


class Conflict(FfwdError):
    code = "conflict"


class Unauthorized(FfwdError):
    code = "unauthorized"


class InvalidTransition(FfwdError):
    """A runner or orchestrator asked for a move the rule book forbids (ADR 0003)."""

    code = "invalid_transition"


class InputNotAllowed(FfwdError):
    """A spec sent to a server names a file outside the server's input folders (ADR 0021)."""

    code = "input_not_allowed"


class PayloadTooLarge(FfwdError):
    code = "payload_too_large"


class UnsupportedMediaType(FfwdError):
    """A request body that is not `application/json` (ADR 0021)."""

    code = "unsupported_media_type"


class StoreUnavailable(FfwdError):
    """The store cannot be opened, read or written: corrupt, locked, unreachable, read-only."""

    code = "store_unavailable"


class ClusterUnavailable(FfwdError):
    """The cluster a driver was pointed at cannot be reached or joined (`ffwd worker --ray`)."""

    code = "cluster_unavailable"
