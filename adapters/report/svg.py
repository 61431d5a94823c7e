"""Inline SVG charts for the report page: paired bars, association heatmaps, a gauge."""

from html import escape

ORIGINAL, SYNTHETIC = "#56657f", "#e8833a"
LABEL_WIDTH, ROW, BAR = 150, 22, 8
CELL = 30


def bars(rows: list[dict], width: int = 372, other: str = "synthetic") -> str:
    """One row per bin: the original's share above, the synthetic's below, on a shared scale.

    `other` names the second side in the tooltips (in an anonymization report: anonymized).
    """
    top = max([max(r["original"], r["synthetic"]) for r in rows] + [1e-9])
    span = width - LABEL_WIDTH - 62
    height = ROW * len(rows) + 4
    parts = [_open(width, height, f"share of rows per bin, original and {other}")]
    for i, row in enumerate(rows):
        y = i * ROW + 3
        parts.append(_label(row["label"], LABEL_WIDTH - 6, y + BAR + 2, anchor="end"))
        for k, (side, color) in enumerate((("original", ORIGINAL), ("synthetic", SYNTHETIC))):
            share = row[side]
            w = max(share / top * span, 0.5 if share else 0)
            tip = escape(f"{row['label']}: {side if side == 'original' else other} {share:.1%}")
            parts.append(
                f'<rect x="{LABEL_WIDTH}" y="{y + k * (BAR + 1)}" width="{w:.1f}" '
                f'height="{BAR}" rx="1.5" fill="{color}"><title>{tip}</title></rect>'
            )
        parts.append(
            f'<text x="{LABEL_WIDTH + span + 6}" y="{y + BAR + 2}" class="num">'
            f"{row['original']:.0%}/{row['synthetic']:.0%}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def heatmap(names: list[str], matrix: list[list[float]], color: str, title: str) -> str:
    """A square of cells shaded by value in [0, 1], columns named on the left and numbered."""
    size = len(names)
    left, head = LABEL_WIDTH, 18
    width, height = left + CELL * size + 2, head + CELL * size + 2
    parts = [_open(width, height, title)]
    for i, name in enumerate(names):
        parts.append(_label(f"{i + 1}. {name}", left - 6, head + i * CELL + CELL / 2 + 4, "end"))
        parts.append(
            f'<text x="{left + i * CELL + CELL / 2}" y="{head - 5}" text-anchor="middle" '
            f'class="num">{i + 1}</text>'
        )
        for j in range(size):
            value = matrix[i][j]
            tip = escape(f"{names[i]} \u00d7 {names[j]}: {value:.2f}")
            ink = "#fff" if value > 0.55 else "#333"
            parts.append(
                f'<rect x="{left + j * CELL}" y="{head + i * CELL}" width="{CELL - 1}" '
                f'height="{CELL - 1}" fill="{color}" fill-opacity="{0.06 + 0.94 * value:.3f}">'
                f"<title>{tip}</title></rect>"
                f'<text x="{left + j * CELL + CELL / 2}" y="{head + i * CELL + CELL / 2 + 4}" '
                f'text-anchor="middle" class="cell" fill="{ink}">{value:.2f}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def gauge(accuracy: float | None, size: int = 132) -> str:
    """A ring filled in proportion to the accuracy, the percentage in its middle."""
    radius, stroke = size / 2 - 9, 12
    circumference = 2 * 3.14159265 * radius
    share = accuracy or 0.0
    text = "n/a" if accuracy is None else f"{accuracy:.1%}"
    c = size / 2
    return (
        f"{_open(size, size, f'accuracy {text}')}"
        f'<circle cx="{c}" cy="{c}" r="{radius}" fill="none" stroke="#e6e9ef" '
        f'stroke-width="{stroke}"/>'
        f'<circle cx="{c}" cy="{c}" r="{radius}" fill="none" stroke="{grade(accuracy)}" '
        f'stroke-width="{stroke}" stroke-linecap="round" transform="rotate(-90 {c} {c})" '
        f'stroke-dasharray="{share * circumference:.1f} {circumference:.1f}"/>'
        f'<text x="{c}" y="{c + 8}" text-anchor="middle" class="gauge">{text}</text></svg>'
    )


def grade(accuracy: float | None) -> str:
    if accuracy is None:
        return "#9aa3b2"
    return "#2f9e6b" if accuracy >= 0.9 else "#e0a422" if accuracy >= 0.75 else "#d9480f"


def _open(width: float, height: float, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
    )


def _label(text: str, x: float, y: float, anchor: str = "start", limit: int = 24) -> str:
    short = text if len(text) <= limit else text[: limit - 1] + "…"
    return (
        f'<text x="{x}" y="{y}" text-anchor="{anchor}" class="label">{escape(short)}'
        f"<title>{escape(text)}</title></text>"
    )
