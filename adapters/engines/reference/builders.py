"""Builds a phase's groups of models from the tables, fresh or from a resumed checkpoint."""

from typing import Any

import numpy as np

from ffwd.adapters.datasets.csv_tables import read_rows
from ffwd.adapters.engines.reference.chars import fit_vocabulary
from ffwd.adapters.engines.reference.encoding import fit_encoder
from ffwd.adapters.engines.reference.keys import fit_key
from ffwd.adapters.engines.reference.phases import Group, split_rows
from ffwd.adapters.engines.reference.tabular import TableModel
from ffwd.adapters.engines.reference.text import CharModel
from ffwd.application.spec import TableSpec

Rows = list[dict[str, str]]


def load_tables(tables: list[TableSpec]) -> dict[str, tuple[list[str], Rows]]:
    return {t.name: read_rows(t.path) for t in tables}


def table_info(tables: list[TableSpec], data: dict[str, tuple[list[str], Rows]]) -> dict:
    """What synthesis needs to know of the originals: column order and row count."""
    return {t.name: {"columns": data[t.name][0], "rows": len(data[t.name][1])} for t in tables}


def tabular_groups(
    tables: list[TableSpec], data: dict, fraction: float, seed: int, private: bool
) -> list[Group]:
    """One group per table with non-text columns, each with its table model: key columns
    get a key format, the others an encoder."""
    groups = []
    for i, table in enumerate(tables):
        columns, rows = data[table.name]
        text = set(table.text_columns or [])
        kept = [c for c in columns if c not in text]
        if not kept:
            continue
        modelled, encoders, keys = [], [], {}
        for column in kept:
            cells = [r.get(column) or "" for r in rows]
            key = fit_key(column, cells)
            if key is not None:
                keys[column] = key
            else:
                modelled.append(column)
                encoders.append(fit_encoder(cells, private))
        model = TableModel(f"t{i}", modelled, encoders, keys)
        train, val = split_rows(len(rows), fraction, [seed, i])
        tokens = model.encode(rows)
        if not private:
            model.start_from_marginals(tokens[train])
        groups.append(Group(table.name, [model], [tokens], train, val))
    return groups


def text_groups(
    table: TableSpec, data: dict, fraction: float, seed: int, private: bool
) -> list[Group]:
    """One group with a character model per text column of the table."""
    columns, rows = data[table.name]
    text = [c for c in columns if c in set(table.text_columns or [])]
    if not text:
        raise ValueError(f"table {table.name!r} has no text columns to train")
    models, encoded = [], []
    for j, column in enumerate(text):
        texts = [r.get(column) or "" for r in rows]
        longest = max(len(t) for t in texts)
        model = CharModel(f"c{j}", column, fit_vocabulary(texts, private), longest, [seed, j])
        models.append(model)
        encoded.append(model.encode(texts))
    train, val = split_rows(len(rows), fraction, [seed, 0])
    return [Group(table.name, models, encoded, train, val)]


def resumed_groups(
    meta: dict[str, Any], arrays: dict[str, np.ndarray], data: dict, fraction: float, seed: int
) -> list[Group]:
    """The checkpoint's models over today's rows, with the checkpoint's split when it fits."""
    groups = []
    for i, group in enumerate(meta["groups"]):
        if group["table"] not in data:
            raise ValueError(f"the checkpoint's table {group['table']!r} is not in this phase")
        _, rows = data[group["table"]]
        models, encoded = [], []
        for m in group["models"]:
            if "encoders" in m:
                model = TableModel.from_meta(m, arrays)
                encoded.append(model.encode(rows))
            else:
                model = CharModel.from_meta(m, arrays)
                encoded.append(model.encode([r.get(model.column) or "" for r in rows]))
            models.append(model)
        train, val = arrays[f"split{i}.train"], arrays[f"split{i}.val"]
        if len(train) + len(val) != len(rows) or max(train.max(), val.max()) >= len(rows):
            train, val = split_rows(len(rows), fraction, [seed, i])
        groups.append(Group(group["table"], models, encoded, train, val))
    return groups
