"""An embedding caller that uses only the facade: `mypy --strict` must accept it as is."""

from uuid import UUID

import ffwd
from ffwd import FfwdError, GeneratorSpec, GeneratorView, build_service


def stop_tabular(store: str, data: str, spec: GeneratorSpec) -> GeneratorView:
    svc = build_service(store=store, data=data)
    gid: UUID = svc.create_generator(spec)
    try:
        return svc.request_stop(gid, "tabular", requested_by="alice")
    except FfwdError as e:
        code: str = e.code
        raise RuntimeError(code) from e


def reasons(view: GeneratorView) -> list[list[str]]:
    return [phase.reasons for phase in view.phases]


VERSION: str = ffwd.__version__
