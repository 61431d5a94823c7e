"""The summaries of an SQLite store file, read with sqlite3 alone: `ffwd list` answers without
loading the event-sourcing library, the container or the domain's rule book (ADR 0019,
ADR 0020). Any other store, or a file whose summaries are missing or of an older layout,
goes the full way (the store rebuilds them when it opens)."""

import sqlite3
from pathlib import Path

from ffwd.adapters.storage import read_model
from ffwd.adapters.storage.read_model import SQLITE, decode
from ffwd.application.summaries import Summary, SummaryQuery


class SummaryReader:
    def __init__(self, connection: sqlite3.Connection) -> None:
        self._db = connection

    def summaries(self, query: SummaryQuery) -> list[Summary]:
        sql, params = SQLITE.page(query)
        return [decode(row) for row in self._db.execute(sql, params)]

    def close(self) -> None:
        self._db.close()


def open_reader(url: str, timeout_s: float) -> SummaryReader | None:
    """A reader of the SQLite store at `url` when its summaries are current, else None."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///")).expanduser()
    if not path.is_file():
        return None
    db = sqlite3.connect(path, timeout=timeout_s, isolation_level=None)
    try:
        version = db.execute(SQLITE.read_version).fetchall()
    except sqlite3.DatabaseError:  # no summaries yet, or not a store: the full way says why
        version = []
    if version != [(read_model.VERSION,)]:
        db.close()
        return None
    return SummaryReader(db)
