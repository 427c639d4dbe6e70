"""QR labels: an A4 PDF sheet with one label per piece of equipment of a building.

Each label has a QR code of the equipment's console page (`<url>/equipment/<id>?site=<site>`:
an equipment id is unique within its site only, so the label names the site), and the
equipment's id, name, kind and floor/zone. The QR code is made with segno and drawn as
vector squares, so it prints sharp at any size; the sheet is laid out with fpdf2. The
equipment is the inventory's, and with `assets` the register-only assets of an exported
asset register file (`plantroom assets export`, docs/assets.md) after it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, urlsplit

import segno
from fpdf import FPDF

from cloud.assets.csvfile import CsvInvalid, CsvRow, parse
from plantroom.errors import PlantroomError
from plantroom.inventory import Inventory

# A4 in mm; two columns of seven labels of 95 x 40 mm inside 10 mm side margins.
PAGE_W, PAGE_H = 210.0, 297.0
COLUMNS, ROWS = 2, 7
LABEL_W, LABEL_H = 95.0, 40.0
MARGIN_X = (PAGE_W - COLUMNS * LABEL_W) / 2
MARGIN_Y = (PAGE_H - ROWS * LABEL_H) / 2
PAD = 3.0
QR_SIZE = LABEL_H - 2 * PAD  # the code with its quiet zone, mm
MAX_LABELS = 2000  # 143 pages; a building with more is a mistake in the inventory
MAX_URL = 200


class LabelError(PlantroomError):
    """The labels cannot be made: the building, the URL or the font is wrong."""


@dataclass(frozen=True, slots=True)
class Label:
    equipment_id: str
    name: str | None
    kind: str
    where: str
    url: str


def console_base(url: str) -> str:
    """The console's address without a trailing `/`; `http(s)://host[:port][/path]` only."""
    url = url.strip()
    if len(url) > MAX_URL:
        raise LabelError(f"--url is {len(url)} characters; at most {MAX_URL}")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        raise LabelError(f"--url {url!r} is not a valid address: {exc}") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise LabelError(
            f"--url {url!r} must be an http:// or https:// address with a host, "
            "e.g. https://console.example"
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise LabelError(f"--url {url!r} must not carry a query, a #fragment or credentials")
    return url.rstrip("/")


def equipment_url(base: str, site: str, equipment_id: str) -> str:
    """The label's address of equipment `equipment_id` at site `site`."""
    return f"{base}/equipment/{quote(equipment_id, safe='')}?site={quote(site, safe='')}"


def _where(building: str, floor: str | None, zone: str | None) -> str:
    where = [f"building {building}"]
    if floor:
        where.append(f"floor {floor}")
    if zone:
        where.append(zone)
    return " · ".join(where)


def labels_for(
    inventory: Inventory, building: str, url: str, assets: Sequence[CsvRow] = ()
) -> list[Label]:
    """One label per piece of equipment of `building`, in inventory order, then one per
    register-only asset of `assets` in that building, in the file's order."""
    base = console_base(url)
    found = next((b for b in inventory.buildings if b.id == building), None)
    if found is None:
        known = ", ".join(b.id for b in inventory.buildings)
        raise LabelError(f"--building {building!r} is not in the inventory (it has: {known})")
    labels = [
        Label(
            equipment_id=e.id,
            name=e.name,
            kind=e.kind.value.replace("_", " "),
            where=_where(found.id, e.floor, e.zone),
            url=equipment_url(base, inventory.site.id, e.id),
        )
        for e in found.equipment
    ]
    listed = {e.id for _, e in inventory.equipment()}
    for row in assets:
        asset = row.change
        if row.id in listed or row.connected or asset.building != building or not asset.kind:
            continue  # the inventory's own, or another building's
        labels.append(
            Label(
                equipment_id=row.id,
                name=asset.name,
                kind=asset.kind.replace("_", " "),
                where=_where(building, asset.floor, asset.zone),
                url=equipment_url(base, inventory.site.id, row.id),
            )
        )
    if not labels:
        raise LabelError(f"building {building!r} has no equipment in the inventory: no labels")
    if len(labels) > MAX_LABELS:
        raise LabelError(
            f"building {building!r} has {len(labels)} pieces of equipment; "
            f"at most {MAX_LABELS} labels per sheet"
        )
    return labels


def read_assets(path: Path) -> list[CsvRow]:
    """The rows of an asset register file; LabelError naming each bad row."""
    try:
        return parse(path.read_bytes(), str(path))
    except OSError as exc:
        raise LabelError(f"cannot read {path}: {exc.strerror}") from exc
    except CsvInvalid as exc:
        raise LabelError(exc.message) from exc


def _fit(pdf: FPDF, text: str, width: float, ellipsis: str) -> str:
    """`text` shortened with an ellipsis to fit `width` mm in the current font."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + ellipsis) > width:
        text = text[:-1]
    return text + ellipsis


def _draw_qr(pdf: FPDF, data: str, x: float, y: float, size: float) -> None:
    qr = segno.make(data, error="m", micro=False)
    width, _ = qr.symbol_size(border=4)
    module = size / width
    for r, row in enumerate(qr.matrix):
        c = 0
        while c < len(row):  # one rectangle per run of dark modules
            if not row[c]:
                c += 1
                continue
            start = c
            while c < len(row) and row[c]:
                c += 1
            pdf.rect(
                x + (4 + start) * module,
                y + (4 + r) * module,
                (c - start) * module,
                module,
                style="F",
            )


def _font(pdf: FPDF, labels: list[Label], font: Path | None) -> tuple[str, str]:
    """The font family to write with, and its ellipsis. Without a font file, the PDF's own
    Helvetica, which has Latin-1 letters only."""
    if font is None:
        for label in labels:
            for text in (label.equipment_id, label.name or "", label.kind, label.where):
                try:
                    text.encode("latin-1")
                except UnicodeEncodeError:
                    raise LabelError(
                        f"equipment {label.equipment_id}: {text!r} has letters the built-in "
                        "font lacks; pass --font with a TrueType font that has them "
                        "(e.g. Noto Sans CJK or Droid Sans Fallback for Chinese)"
                    ) from None
        return "helvetica", "..."
    if not font.is_file():
        raise LabelError(f"--font {font} does not exist; give a TrueType (.ttf) font file")
    try:
        pdf.add_font("label", "", str(font))
    except Exception as exc:  # fpdf2 raises several kinds for an unusable font
        raise LabelError(f"--font {font} cannot be used: {exc}") from exc
    return "label", "\u2026"


def render(labels: list[Label], *, title: str, font: Path | None = None) -> bytes:
    """The PDF sheet of `labels`."""
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_title(title)
    pdf.set_creator("Plantroom")
    pdf.set_auto_page_break(False)
    family, ellipsis = _font(pdf, labels, font)
    pdf.set_draw_color(170)
    pdf.set_fill_color(0)
    per_page = COLUMNS * ROWS
    text_x_off = PAD + QR_SIZE + PAD
    text_w = LABEL_W - text_x_off - PAD
    for i, label in enumerate(labels):
        if i % per_page == 0:
            pdf.add_page()
        col, row = (i % per_page) % COLUMNS, (i % per_page) // COLUMNS
        x, y = MARGIN_X + col * LABEL_W, MARGIN_Y + row * LABEL_H
        pdf.set_line_width(0.1)
        pdf.rect(x, y, LABEL_W, LABEL_H)  # a cutting guide
        _draw_qr(pdf, label.url, x + PAD, y + PAD, QR_SIZE)
        lines = [
            (13, label.equipment_id),
            (9, label.name or ""),
            (9, label.kind),
            (8, label.where),
        ]
        ty = y + PAD + 4
        for size, text in lines:
            if not text:
                continue
            pdf.set_font(family, size=size)
            pdf.set_xy(x + text_x_off, ty)
            pdf.cell(text_w, size * 0.45, _fit(pdf, text, text_w, ellipsis))
            ty += size * 0.45 + 2.5
    return bytes(pdf.output())


def write_sheet(
    inventory: Inventory,
    building: str,
    url: str,
    out: Path,
    *,
    font: Path | None = None,
    assets: Path | None = None,
) -> int:
    """Write the building's label sheet to `out`; returns the number of labels."""
    labels = labels_for(inventory, building, url, read_assets(assets) if assets else ())
    data = render(labels, title=f"Equipment labels: {inventory.site.id} {building}", font=font)
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise LabelError(f"cannot write {out}: {exc.strerror}") from exc
    return len(labels)
