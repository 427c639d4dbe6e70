"""Small inline SVG charts for the report: no scripts, no external files, print-friendly."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

GOOD = "#2e7d32"
BAD = "#c62828"
INK = "#263238"
GRID = "#cfd8dc"
SERIES = ("#c62828", "#ef6c00", "#1565c0", "#78909c")  # emergency, urgent, normal, low


def _svg(width: int, height: int, body: str, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>{body}</svg>"
    )


def target_bars(
    rows: Sequence[tuple[str, float | None, float | None, bool, str]],
    title: str,
    width: int = 640,
) -> str:
    """One horizontal 0-100 % bar per indicator with its target marked.

    rows: (label, value, target, higher_is_better, the value as shown)."""
    label_w, bar_w, row_h = 250, width - 330, 26
    height = row_h * len(rows) + 10
    parts = []
    for i, (label, value, target, higher, shown) in enumerate(rows):
        y = 5 + i * row_h
        parts.append(
            f'<text x="0" y="{y + 17}" font-size="12" fill="{INK}">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="16" fill="{GRID}"/>'
        )
        if value is not None:
            met = target is None or (value >= target if higher else value <= target)
            w = bar_w * max(0.0, min(value, 100.0)) / 100
            colour = GOOD if met else BAD
            parts.append(
                f'<rect x="{label_w}" y="{y + 4}" width="{w:.1f}" height="16" fill="{colour}"/>'
            )
        if target is not None:
            x = label_w + bar_w * target / 100
            parts.append(
                f'<line x1="{x:.1f}" y1="{y + 1}" x2="{x:.1f}" y2="{y + 23}" '
                f'stroke="{INK}" stroke-width="2"/>'
            )
        parts.append(
            f'<text x="{label_w + bar_w + 8}" y="{y + 17}" font-size="12" '
            f'fill="{INK}">{escape(shown)}</text>'
        )
    return _svg(width, height, "".join(parts), title)


def stacked_bars(
    rows: Sequence[tuple[str, Sequence[int]]],
    series: Sequence[str],
    title: str,
    width: int = 640,
    number: Callable[[int], str] = str,
) -> str:
    """One horizontal bar per row, stacked by series, with a legend; counts written with
    `number`."""
    label_w, row_h = 110, 26
    bar_w = width - label_w - 60
    top = max((sum(v) for _, v in rows), default=0) or 1
    height = row_h * len(rows) + 34
    parts = []
    for i, (label, values) in enumerate(rows):
        y = 5 + i * row_h
        parts.append(f'<text x="0" y="{y + 17}" font-size="12" fill="{INK}">{escape(label)}</text>')
        x = float(label_w)
        for j, v in enumerate(values):
            w = bar_w * v / top
            if w > 0:
                colour = SERIES[j % len(SERIES)]
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="16" fill="{colour}">'
                    f"<title>{escape(series[j])}: {number(v)}</title></rect>"
                )
            x += w
        parts.append(
            f'<text x="{x + 6:.1f}" y="{y + 17}" font-size="12" fill="{INK}">'
            f"{number(sum(values))}</text>"
        )
    y = 5 + len(rows) * row_h + 10
    for j, name in enumerate(series):
        x = label_w + j * 110
        parts.append(
            f'<rect x="{x}" y="{y}" width="12" height="12" fill="{SERIES[j % len(SERIES)]}"/>'
            f'<text x="{x + 16}" y="{y + 11}" font-size="11" fill="{INK}">{escape(name)}</text>'
        )
    return _svg(width, height, "".join(parts), title)
