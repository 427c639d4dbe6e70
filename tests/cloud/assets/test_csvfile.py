"""The register's CSV file, read and written without a database: every bad row is named by
its line and field, and an exported file reads back to the same values."""

from __future__ import annotations

from datetime import date

import pytest

from cloud.assets import csvfile
from cloud.assets.csvfile import COLUMNS, CsvInvalid, format_documents, parse, parse_documents
from cloud.assets.kinds import ASSET_KINDS
from cloud.equipment import Equipment
from plantroom.inventory import load_inventory
from tests.harness import REPO

HEADER = "id,kind,building,name,make,model,serial,install_date,warranty_end,supplier,documents\n"


def problems(data: bytes | str, source: str = "assets.csv") -> list[str]:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(CsvInvalid) as caught:
        parse(raw, source)
    return str(caught.value.message).splitlines()


def test_a_good_file_reads_every_row_with_its_line() -> None:
    rows = parse(
        (
            HEADER
            + "gen-1,generator,b1,Stand-by generator,Cummins,C550 D5,SN-1,2021-04-01,2026-03-31,"
            + 'PowerCo,"Manual <https://example.com/c550.pdf>; Warranty <https://example.com/w.pdf>"\n'
            + "\n"  # a blank line is skipped
            + "ext-1,extinguisher,b2,,,,,,,,\n"
        ).encode(),
        "assets.csv",
    )
    assert [(r.line, r.id) for r in rows] == [(2, "gen-1"), (4, "ext-1")]
    gen = rows[0].change
    assert (gen.kind, gen.building, gen.make, gen.model) == (
        "generator",
        "b1",
        "Cummins",
        "C550 D5",
    )
    assert (gen.install_date, gen.warranty_end) == (date(2021, 4, 1), date(2026, 3, 31))
    assert [(d.title, d.url) for d in gen.documents] == [
        ("Manual", "https://example.com/c550.pdf"),
        ("Warranty", "https://example.com/w.pdf"),
    ]
    ext = rows[1].change.given()
    assert ext["name"] is None and ext["make"] is None and ext["documents"] == []
    assert rows[1].connected is None


def test_each_bad_row_is_named_by_file_line_and_field() -> None:
    found = problems(
        HEADER
        + "gen-1,generator,b1,,,,,2021-13-01,,,\n"
        + "bad id!,generator,b1,,,,,,,,\n"
        + "ext-1,extinguisher,b2,,,,,2024-05-01,2023-05-01,,\n"
        + "p1,tank,b1,,,,,,,,\n"
        + "ext-2,extinguisher,b2,,,,,,,,Manual https://x.example/m.pdf\n"
        + "ext-3,extinguisher,b2,,,,,,,,Manual <ftp://x.example/m.pdf>\n"
        + "ext-1,extinguisher,b2,,,,,,,,\n"
        + "short,generator\n",
        "site/assets.csv",
    )
    assert found == [
        "site/assets.csv:2: install_date: '2021-13-01' is not a date; write YYYY-MM-DD",
        "site/assets.csv:3: id: 'bad id!': letters, digits, '.', '_' or '-', at most 64",
        "site/assets.csv:4: warranty_end: 2023-05-01 is before install_date 2024-05-01",
        f"site/assets.csv:5: kind: 'tank' is not an asset kind (known: {known_kinds()})",
        "site/assets.csv:6: documents: 'Manual https://x.example/m.pdf': write each document "
        "as title <url>",
        "site/assets.csv:7: documents.0.url: 'ftp://x.example/m.pdf' is not an http(s) address",
        "site/assets.csv:8: id: 'ext-1' is also on line 4",
        "site/assets.csv:9: row: 2 cells; the header has 11",
    ]


def known_kinds() -> str:
    return ", ".join(ASSET_KINDS)


def test_a_telemetry_kind_reads_as_an_export_writes_it() -> None:
    (row,) = parse(HEADER.encode() + b"p9,pump,b1,,,,,,,,\n", "assets.csv")
    assert row.change.kind == "pump"  # whether it may be set is the register's check


def test_a_quoted_cell_over_several_lines_keeps_the_line_of_its_row() -> None:
    found = problems('id,name,install_date\ngen-1,"Generator\nroof",2021-01-01\ngen-2,x,soon\n')
    assert found == ["assets.csv:4: install_date: 'soon' is not a date; write YYYY-MM-DD"]


def test_the_header_is_checked() -> None:
    assert problems("id,kind,colour\n") == [
        f"assets.csv:1: header: unknown column 'colour' (known: {', '.join(COLUMNS)})"
    ]
    assert problems("kind,building\n") == ["assets.csv:1: header: the column `id` is required"]
    assert problems("id,make,Make\n") == ["assets.csv:1: header: column 'make' is named twice"]
    assert problems("") == ["assets.csv:1: header: the file is empty"]


def test_a_byte_order_mark_is_tolerated_and_other_encodings_are_named() -> None:
    rows = parse("\ufeffid,name\ngen-1,Générateur\n".encode(), "assets.csv")
    assert rows[0].id == "gen-1" and rows[0].change.name == "Générateur"
    latin = "id,name\ngen-1,x\ngen-2,Générateur\n".encode("latin-1")
    assert problems(latin) == [
        "assets.csv:3: file: not UTF-8 (byte 0xe9 at offset 23); save it as UTF-8"
    ]


def test_size_and_rows_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    big = b"id\n" + b"x" * csvfile.MAX_BYTES
    assert problems(big) == [
        f"assets.csv:1: file: {len(big)} bytes; the limit is {csvfile.MAX_BYTES}"
    ]
    monkeypatch.setattr(csvfile, "MAX_ROWS", 3)
    many = "id\n" + "".join(f"a{i}\n" for i in range(5))
    assert problems(many) == ["assets.csv:5: file: more than 3 rows"]


def test_a_broken_quote_is_named() -> None:
    assert problems('id,name\ngen-1,"open\n') == ["assets.csv:2: row: unexpected end of data"]


def test_connected_is_yes_or_no() -> None:
    rows = parse(b"id,connected\np1,yes\ngen-1,NO\n", "a.csv")
    assert [r.connected for r in rows] == [True, False]
    assert problems("id,connected\np1,maybe\n") == [
        "assets.csv:2: connected: 'maybe': write yes or no"
    ]


def test_documents_are_bounded() -> None:
    many = "; ".join(f"Doc {i} <https://x.example/{i}>" for i in range(21))
    with pytest.raises(ValueError, match="21 documents; at most 20"):
        parse_documents(many)


def test_an_export_reads_back_to_the_same_values() -> None:
    row = Equipment(
        id="gen-1",
        site="s1",
        building="b1",
        kind="generator",
        floor="B2",
        zone="plant room",
        name="Stand-by generator, north",
        profile="",
        tags={},
        connected=False,
        make="Cummins",
        model='C550 "D5"',
        serial="SN-1",
        install_date=date(2021, 4, 1),
        warranty_end=date(2026, 3, 31),
        supplier="PowerCo",
        documents=[{"title": "Manual", "url": "https://example.com/m.pdf?a=1;b=2"}],
    )
    text = csvfile.export([row])
    assert text.splitlines()[0] == ",".join(COLUMNS)
    (back,) = parse(text.encode(), "assets.csv")
    got = back.change.given()
    assert back.id == "gen-1" and back.connected is False
    for name in ("kind", "building", "floor", "zone", "name", "make", "model", "serial"):
        assert got[name] == getattr(row, name), name
    assert (got["install_date"], got["warranty_end"]) == (row.install_date, row.warranty_end)
    assert [d.model_dump() for d in got["documents"]] == row.documents
    assert format_documents(row.documents) == "Manual <https://example.com/m.pdf?a=1;b=2>"


def test_the_demo_register_reads_cleanly() -> None:
    path = REPO / "sites" / "demo-assets.csv"
    rows = parse(path.read_bytes(), str(path))
    buildings = {b.id for b in load_inventory(REPO / "sites" / "demo.yaml").buildings}
    assert len(rows) >= 5
    for row in rows:
        given = row.change.given()
        assert given["building"] in buildings and given["kind"] in ASSET_KINDS, row.id
    assert {"generator", "extinguisher", "water_tank"} <= {r.change.kind for r in rows}
