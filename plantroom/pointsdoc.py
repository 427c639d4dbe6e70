"""The canonical points reference (docs/points.md), generated from `plantroom.canonical`.

python -m plantroom.pointsdoc                 # print the page
python -m plantroom.pointsdoc --write         # write docs/points.md (from the repo root)
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from plantroom.canonical import CANONICAL, CanonicalPoint
from plantroom.docpage import page_main

DOC_PATH = Path("docs/points.md")
COMMAND = "python -m plantroom.pointsdoc --write"

_INTRO = f"""\
# Canonical points

<!-- Generated from plantroom/canonical.py by `{COMMAND}`; do not edit. -->

The points Plantroom's own fault rules, preventive-maintenance plans and dashboards read, per
kind of equipment. A device profile (see [profiles.md](profiles.md)) provides a canonical
point by giving one of its points the canonical name, directly from a register or JSON field
or as a derived point (from an alarm code, a bit of a status word or an expression). A rule,
plan or dashboard reading a point that no profile at the site provides never sees it: the
site check lists such gaps.

Numbers and counters travel in their canonical unit: a profile declares the unit its device
reports (`unit:`), and the edge converts it to the canonical unit below when they differ
(for example W to kW, kPa to bar, degF to degC). A unit that cannot convert is refused when
the profile loads. `1` is a pure number (a count, a floor number; a profile may write
`count`). Enum points carry labels; the rules compare against the labels listed here, so a
profile's `enum` maps the device's codes onto them.

Types: `bool` (true/false), `number` (a measurement), `enum` (a label), `counter` (a
number that only grows, such as run hours; rules and plans read its increase), `text`.
"""


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _row(point: CanonicalPoint) -> str:
    unit = f"`{point.unit}`" if point.unit is not None else ""
    meaning = point.meaning
    if point.labels:
        meaning += "; labels " + ", ".join(f"`{label}`" for label in point.labels)
    readers = ", ".join(point.readers)
    return f"| `{point.name}` | {point.type} | {unit} | {_cell(meaning)} | {_cell(readers)} |"


def render() -> str:
    """The page's text."""
    parts = [_INTRO]
    for kind, points in CANONICAL.items():
        parts.append(f"\n## {kind}\n\n{len(points)} points.\n")
        parts.append("| point | type | unit | meaning | read by |")
        parts.append("|---|---|---|---|---|")
        parts.extend(_row(point) for point in points.values())
    return "\n".join(parts) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    return page_main("python -m plantroom.pointsdoc", __doc__, DOC_PATH, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
