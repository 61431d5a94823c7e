"""The quality report as one self-contained HTML page: every value from data is escaped."""

from html import escape

from ffwd.adapters.report import svg
from ffwd.adapters.report.style import CHANGES_CSS, CSS

PARTS = {
    "univariate": "Column distributions",
    "bivariate": "Column associations",
    "text": "Text columns",
}
TRAINING = {
    "title": "Quality report",
    "eyebrow": "ffwd · synthetic data quality report",
    "lede": "How closely the synthetic tables follow the originals: each column's "
    "distribution, the associations between columns, and the text.",
    "side": "synthetic",
}
ANONYMIZATION = {
    "title": "Anonymization report",
    "eyebrow": "ffwd · anonymization report",
    "lede": "What anonymization changed in each column, and how much of the tables' utility "
    "remains: each column's distribution, the associations between columns, and the text.",
    "side": "anonymized",
}


def render(report: dict) -> str:
    words = ANONYMIZATION if report.get("kind") == "anonymization" else TRAINING
    name = escape(str(report["generator"]))
    tables = report["tables"]
    nav = "".join(
        f'<a href="#table-{i}">{escape(t)} {_chip(r["accuracy"])}</a>'
        for i, (t, r) in enumerate(tables.items())
    )
    body = "".join(_table(i, t, r, words) for i, (t, r) in enumerate(tables.items()))
    tiles = _tiles(report["parts"])
    if "changed" in report:
        tiles = _tile("Cells changed", report["changed"], "#1f2430") + tiles
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{words['title']} · {name}</title><style>{CSS}{_extra_css(report)}</style>"
        '</head><body><header class="hero"><div>'
        f'<p class="eyebrow">{words["eyebrow"]}</p>'
        f"<h1>{name}</h1>"
        f'<p class="lede">{words["lede"]}</p>'
        f'<div class="tiles">{tiles}</div></div>'
        f'<div class="headline">{svg.gauge(report["accuracy"])}'
        "<span>Overall accuracy</span></div></header>"
        f"<nav>{nav}</nav><main>{body}</main><footer><h3>Method</h3>"
        f"<p>{escape(report['method'])}</p></footer></body></html>"
    )


def _table(index: int, name: str, table: dict, words: dict = TRAINING) -> str:
    rows, side = table["rows"], words["side"]
    columns = "".join(
        _column(c, entry, side)
        for c, entry in table["columns"].items()
        if entry["kind"] not in ("text", "key")
    )
    keys = ", ".join(escape(c) for c, e in table["columns"].items() if e["kind"] == "key")
    keys = (
        _none(f"Identifiers (a distinct value on every row), not compared: {keys}.") if keys else ""
    )
    texts = "".join(_text(c, entry, side) for c, entry in table["text"].items())
    changes = f"<h3>What changed</h3>{_changes(table['changes'])}" if "changes" in table else ""
    return (
        f'<section id="table-{index}"><div class="section-head"><h2>{escape(name)}</h2>'
        f"{_chip(table['accuracy'], big=True)}</div>"
        f'<p class="meta">{rows["original"]:,} original rows · {rows["synthetic"]:,} {side} '
        f'rows</p><div class="tiles">{_tiles(table["parts"])}</div>{changes}'
        f"<h3>Columns {_legend(side)}</h3>{keys}"
        f'<div class="grid">{columns or _none("No columns to compare.")}</div>'
        f"<h3>Associations</h3>{_pairs(table['pairs'], side)}"
        + (f"<h3>Text {_legend(side)}</h3>{texts}" if texts else "")
        + "</section>"
    )


def _column(name: str, entry: dict, side: str = "synthetic") -> str:
    kind = entry["kind"]
    head = f'<div class="card-head"><b>{escape(name)}</b><span class="kind">{kind}</span>'
    if kind == "categorical":
        c = entry["categories"]
        facts = f"{c['original']:,} categories original · {c['synthetic']:,} {side}"
    else:
        facts = (
            f"mean {_stat(entry['mean']['original'])} → {_stat(entry['mean']['synthetic'])}"
            f" · std {_stat(entry['std']['original'])} → {_stat(entry['std']['synthetic'])}"
        )
    return (
        f'<div class="card">{head}{_match(entry["distance"])}</div>'
        f'{svg.bars(entry["bins"], other=side)}<p class="facts">{escape(facts)}</p></div>'
    )


def _pairs(pairs: dict, side: str = "synthetic") -> str:
    if pairs["distance"] is None:
        return _none("Fewer than two comparable columns: no associations to compare.")
    names = pairs["columns"]
    difference = [
        [abs(a - b) for a, b in zip(row_a, row_b, strict=True)]
        for row_a, row_b in zip(pairs["original"], pairs["synthetic"], strict=True)
    ]
    maps = (
        ("Original", pairs["original"], svg.ORIGINAL),
        (side.capitalize(), pairs["synthetic"], svg.SYNTHETIC),
        ("Difference", difference, "#d9480f"),
    )
    figures = "".join(
        f"<figure>{svg.heatmap(names, m, color, f'{title} association')}"
        f"<figcaption>{title}</figcaption></figure>"
        for title, m, color in maps
    )
    worst = "".join(
        f"<li><b>{escape(p['columns'][0])}</b> &times; <b>{escape(p['columns'][1])}</b>: "
        f"{p['original']:.2f} → {p['synthetic']:.2f}</li>"
        for p in pairs["worst"]
    )
    return (
        f'<p class="meta">Cramér\'s V between every pair of columns (0 independent, 1 fully '
        f"dependent). Mean absolute difference: {pairs['distance']:.3f}.</p>"
        f'<div class="maps">{figures}</div><p class="meta">Largest differences</p>'
        f'<ul class="worst">{worst}</ul>'
    )


def _text(name: str, entry: dict, other: str = "synthetic") -> str:
    length = entry["length"]
    metrics = "".join(
        f"<li>{label} {_match(entry[key]['distance'])}</li>"
        for key, label in (("length", "Length"), ("characters", "Characters"), ("words", "Words"))
    )
    samples = "".join(
        f'<div><p class="meta">{label.capitalize()} samples</p><ul class="samples">'
        + "".join(f"<li>{escape(s)}</li>" for s in entry["samples"][side])
        + "</ul></div>"
        for side, label in (("original", "original"), ("synthetic", other))
    )
    mean = f"mean length {_stat(length['mean']['original'])} → {_stat(length['mean']['synthetic'])}"
    return (
        f'<div class="card wide"><div class="card-head"><b>{escape(name)}</b>'
        f'<span class="kind">text</span>{_match(entry["distance"])}</div>'
        f'<div class="text-body"><div><ul class="metrics">{metrics}</ul>'
        f'{svg.bars(length["bins"], other=other)}<p class="facts">{escape(mean)} characters</p>'
        "</div>"
        f"{samples}</div></div>"
    )


def _changes(changes: dict) -> str:
    """The anonymization report's table: per column, its technique and what it changed."""
    rows = "".join(
        f"<tr><td><b>{escape(column)}</b></td>"
        f'<td><span class="kind">{escape(entry["technique"] or "unchanged")}</span></td>'
        f'<td class="share"><i style="width:{entry["changed"] * 100:.1f}%"></i>'
        f"<span>{_percent(entry['changed'])}</span></td>"
        f"<td>{escape(entry['summary'])}"
        + (
            f'<span class="meta"> · compared as {escape(entry["compared_as"])}</span>'
            if entry["compared_as"] != "values"
            else ""
        )
        + "</td></tr>"
        for column, entry in changes.items()
    )
    return (
        '<table class="changes"><thead><tr><th>Column</th><th>Technique</th>'
        f"<th>Cells changed</th><th>What changed</th></tr></thead><tbody>{rows}</tbody></table>"
    )


def _extra_css(report: dict) -> str:
    return CHANGES_CSS if report.get("kind") == "anonymization" else ""


def _tile(label: str, value: float | None, color: str) -> str:
    return (
        f'<div class="tile"><span>{label}</span>'
        f'<b style="color:{color}">{_percent(value)}</b></div>'
    )


def _tiles(parts: dict) -> str:
    return "".join(
        f'<div class="tile"><span>{label}</span><b style="color:{svg.grade(parts[key])}">'
        f"{_percent(parts[key])}</b></div>"
        for key, label in PARTS.items()
        if parts.get(key) is not None
    )


def _chip(accuracy: float | None, big: bool = False) -> str:
    size = " big" if big else ""
    return (
        f'<span class="chip{size}" style="background:{svg.grade(accuracy)}">'
        f"{_percent(accuracy)}</span>"
    )


def _match(distance: float | None) -> str:
    accuracy = None if distance is None else 1 - distance
    return f'<span class="match" style="color:{svg.grade(accuracy)}">{_percent(accuracy)}</span>'


def _legend(side: str = "synthetic") -> str:
    return (
        f'<span class="legend"><i style="background:{svg.ORIGINAL}"></i>original '
        f'<i style="background:{svg.SYNTHETIC}"></i>{side}</span>'
    )


def _percent(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _stat(value) -> str:
    if value is None:
        return "\u2013"
    return value if isinstance(value, str) else f"{value:,.1f}"


def _none(message: str) -> str:
    return f'<p class="meta">{message}</p>'
