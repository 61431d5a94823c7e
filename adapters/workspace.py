"""Output folders of generators under the data directory."""

import shutil
from pathlib import Path
from uuid import UUID


class FileWorkspace:
    """The Workspace port on the local file system: `{data}/outputs/{generator id}/`."""

    def __init__(self, root: str) -> None:
        self.root = Path(root)

    def outputs_dir(self, generator_id: str) -> str:
        path = self._folder(generator_id)
        path.mkdir(parents=True, exist_ok=True)
        return str(path)

    def discard(self, generator_id: str) -> None:
        shutil.rmtree(self._folder(generator_id), ignore_errors=True)

    def _folder(self, generator_id: str) -> Path:
        # Only a canonical UUID names a folder: nothing from user input becomes a path.
        return self.root / "outputs" / str(UUID(generator_id))
