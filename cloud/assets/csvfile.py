"""The register as a CSV file: read (every bad row named as `FILE:LINE: field: problem`) and
written (the same columns, so an exported file imports back unchanged).

Columns (the header names them, in any order; only `id` is required):
`id, kind, building, floor, zone, name, make, model, serial, install_date, warranty_end,
supplier, documents, connected`. A column left out keeps what is registered; an empty cell
clears it. Dates are ISO (`2024-05-31`); `documents` is `title <url>` entries separated by
`;`; `connected` is `yes` or `no` (written by the export; an import cannot change it).
The file is UTF-8, with or without a byte-order mark, at most `MAX_BYTES` and `MAX_ROWS`.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from cloud.assets.schemas import MAX_DOCUMENTS, AssetChange, check_asset_id
from cloud.equipment import Equipment
from cloud.errors import InvalidInput

COLUMNS = (
    "id",
    "kind",
    "building",
    "floor",
    "zone",
    "name",
    "make",
    "model",
    "serial",
    "install_date",
    "warranty_end",
    "supplier",
    "documents",
    "connected",
)
MAX_BYTES = 1024 * 1024
MAX_ROWS = 5000
MAX_PROBLEMS = 200  # problems reported of one file; the rest are counted
_DOCUMENT = re.compile(r"\s*(?P<title>[^<>;]*?)\s*<(?P<url>[^<>\s]*)>\s*(?:;|\Z)")
_YES = {"yes": True, "true": True, "1": True, "no": False, "false": False, "0": False}


@dataclass(frozen=True, slots=True)
class CsvProblem:
    line: int
    field: str
    problem: str

    def text(self, source: str) -> str:
        return f"{source}:{self.line}: {self.field}: {self.problem}"


class CsvInvalid(InvalidInput):
    """A file with bad rows: every problem, each with its line and field."""

    code = "invalid_csv"

    def __init__(self, source: str, problems: list[CsvProblem], *, more: int = 0) -> None:
        lines = [p.text(source) for p in problems]
        if more:
            lines.append(f"{source}: … and {more} more problems")
        super().__init__(
            "\n".join(lines),
            details=[{"line": p.line, "field": p.field, "problem": p.problem} for p in problems],
        )
        self.problems = problems


@dataclass(frozen=True, slots=True)
class CsvRow:
    line: int
    id: str
    change: AssetChange
    connected: bool | None  # the `connected` cell, when the file has one


def field_problems(exc: ValidationError) -> list[tuple[str, str]]:
    """(field, problem) of each of pydantic's errors, in the words of the validators."""
    out = []
    for err in exc.errors():
        loc = err.get("loc", ())
        field = ".".join(str(p) for p in loc) if loc else "row"
        out.append((field, str(err.get("msg", "invalid")).removeprefix("Value error, ")))
    return out


def decode(data: bytes, source: str) -> str:
    """The file's text: UTF-8, a leading byte-order mark dropped."""
    if len(data) > MAX_BYTES:
        raise CsvInvalid(
            source, [CsvProblem(1, "file", f"{len(data)} bytes; the limit is {MAX_BYTES}")]
        )
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        byte = data[exc.start]
        raise CsvInvalid(
            source,
            [
                CsvProblem(
                    line,
                    "file",
                    f"not UTF-8 (byte 0x{byte:02x} at offset {exc.start}); save it as UTF-8",
                )
            ],
        ) from None


def parse_documents(cell: str) -> list[dict[str, str]]:
    """`title <url>; title <url>` (a `;` inside the angle brackets belongs to the address)."""
    out: list[dict[str, str]] = []
    pos = 0
    while cell[pos:].strip():
        match = _DOCUMENT.match(cell, pos)
        if match is None:
            entry = cell[pos:].split(";", 1)[0].strip()
            raise ValueError(f"{entry[:60]!r}: write each document as title <url>")
        if len(out) == MAX_DOCUMENTS:
            count = len(out) + 1 + cell[match.end() :].count(">")
            raise ValueError(f"{count} documents; at most {MAX_DOCUMENTS}")
        out.append({"title": match.group("title"), "url": match.group("url")})
        pos = match.end()
    return out


def format_documents(documents: Iterable[dict[str, str]] | None) -> str:
    return "; ".join(f"{d['title']} <{d['url']}>" for d in documents or ())


def _records(text: str) -> Iterator[tuple[int, list[str]]]:
    """(first line, cells) of each record; a quoted cell may span lines."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # named at the line its record starts on
            raise CsvInvalid("", [CsvProblem(line, "row", str(exc))]) from None
        yield line, cells
        line = reader.line_num + 1


def _header(cells: list[str]) -> tuple[list[str], list[CsvProblem]]:
    names = [c.strip().lower() for c in cells]
    problems = []
    seen: set[str] = set()
    for name in names:
        if name not in COLUMNS:
            problems.append(
                CsvProblem(1, "header", f"unknown column {name!r} (known: {', '.join(COLUMNS)})")
            )
        elif name in seen:
            problems.append(CsvProblem(1, "header", f"column {name!r} is named twice"))
        seen.add(name)
    if "id" not in names:
        problems.append(CsvProblem(1, "header", "the column `id` is required"))
    return names, problems


def _row(line: int, names: list[str], cells: list[str]) -> CsvRow | list[CsvProblem]:
    values: dict[str, Any] = {}
    problems: list[CsvProblem] = []
    connected: bool | None = None
    for name, cell in zip(names, cells, strict=True):
        if name == "connected":
            text = cell.strip().lower()
            if text and text not in _YES:
                problems.append(CsvProblem(line, name, f"{cell!r}: write yes or no"))
            connected = _YES.get(text)
        elif name == "documents":
            try:
                values[name] = parse_documents(cell)
            except ValueError as exc:
                problems.append(CsvProblem(line, name, str(exc)))
        elif name != "id":
            values[name] = cell if cell.strip() else None
    ident = cells[names.index("id")].strip()
    if not ident:
        problems.append(CsvProblem(line, "id", "required"))
    else:
        try:
            check_asset_id(ident)
        except ValueError as exc:
            problems.append(CsvProblem(line, "id", str(exc)))
    try:
        change = AssetChange.model_validate(values)
    except ValidationError as exc:
        return problems + [CsvProblem(line, *problem) for problem in field_problems(exc)]
    if problems:
        return problems
    return CsvRow(line, ident, change, connected)


def read(data: bytes, source: str) -> tuple[list[CsvRow], list[CsvProblem]]:
    """The file's good rows and the problems of the others. CsvInvalid when the file cannot be
    read as a whole: too large, not UTF-8, no or a bad header."""
    text = decode(data, source)
    problems: list[CsvProblem] = []
    rows: list[CsvRow] = []
    first: dict[str, int] = {}
    records = _records(text)
    try:
        header = next(records, None)
    except CsvInvalid as exc:
        raise CsvInvalid(source, exc.problems) from None
    if header is None or not any(c.strip() for c in header[1]):
        raise CsvInvalid(source, [CsvProblem(1, "header", "the file is empty")])
    names, problems = _header(header[1])
    if problems:
        raise CsvInvalid(source, problems)
    count = 0
    try:
        for line, cells in records:
            if not any(c.strip() for c in cells):
                continue  # a blank line
            count += 1
            if count > MAX_ROWS:
                problems.append(CsvProblem(line, "file", f"more than {MAX_ROWS} rows"))
                break
            if len(cells) != len(names):
                problems.append(
                    CsvProblem(line, "row", f"{len(cells)} cells; the header has {len(names)}")
                )
                continue
            ident = cells[names.index("id")].strip()
            if ident and ident in first:
                problems.append(CsvProblem(line, "id", f"{ident!r} is also on line {first[ident]}"))
                continue
            first.setdefault(ident, line)
            parsed = _row(line, names, cells)
            if isinstance(parsed, list):
                problems.extend(parsed)
            else:
                rows.append(parsed)
    except CsvInvalid as exc:  # broken quoting: the rest of the file cannot be read
        problems.extend(exc.problems)
    return rows, problems


def invalid(source: str, problems: list[CsvProblem]) -> CsvInvalid:
    """Every problem in the order of the file's lines (the first MAX_PROBLEMS, and a count)."""
    ordered = sorted(problems, key=lambda p: p.line)
    return CsvInvalid(source, ordered[:MAX_PROBLEMS], more=len(ordered[MAX_PROBLEMS:]))


def parse(data: bytes, source: str) -> list[CsvRow]:
    """Every row of the file, or CsvInvalid with every problem found."""
    rows, problems = read(data, source)
    if problems:
        raise invalid(source, problems)
    return rows


def export(rows: Iterable[Equipment]) -> str:
    """The rows as CSV text with every column (documents as `title <url>; …`)."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.id,
                r.kind,
                r.building,
                r.floor or "",
                r.zone or "",
                r.name or "",
                r.make or "",
                r.model or "",
                r.serial or "",
                r.install_date.isoformat() if r.install_date else "",
                r.warranty_end.isoformat() if r.warranty_end else "",
                r.supplier or "",
                format_documents(r.documents),
                "yes" if r.connected else "no",
            ]
        )
    return out.getvalue()
