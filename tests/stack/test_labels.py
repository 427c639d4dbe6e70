"""QR labels: the sheet rendered to PNG by poppler's pdftoppm and every code read back by
zbar's zbarimg (Debian's poppler-utils and zbar-tools); the URL and building checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from plantroom.inventory import Inventory, load_inventory
from stack.cli import app
from stack.labels import LabelError, console_base, labels_for, read_assets, write_sheet
from tests.harness import qr_codes

DEMO = Path(__file__).resolve().parents[2] / "sites" / "demo.yaml"


def inventory_with(tmp_path: Path, equipment: int) -> Inventory:
    demo = load_inventory(DEMO)
    building = demo.buildings[0]
    items = [
        building.equipment[0].model_copy(
            update={"id": f"lift-{i:03d}", "name": f"Passenger lift {i}", "zone": "core"}
        )
        for i in range(equipment)
    ]
    return demo.model_copy(update={"buildings": [building.model_copy(update={"equipment": items})]})


def test_every_label_decodes_to_its_equipment_page(tmp_path: Path) -> None:
    inventory = load_inventory(DEMO)
    out = tmp_path / "labels.pdf"
    result = CliRunner().invoke(
        app,
        ["labels", "-i", str(DEMO), "--building", "tower-a", "--url",
         "https://console.example/", "--out", str(out)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    ids = [e.id for b, e in inventory.equipment({"tower-a"})]
    assert f"{len(ids)} labels" in result.output
    assert out.read_bytes().startswith(b"%PDF")
    site = inventory.site.id
    expected = sorted(f"https://console.example/equipment/{i}?site={site}" for i in ids)
    assert sorted(qr_codes(out, tmp_path)) == expected


def test_a_second_page_when_the_first_is_full(tmp_path: Path) -> None:
    out = tmp_path / "labels.pdf"
    count = write_sheet(inventory_with(tmp_path, 15), "tower-a", "http://10.0.0.5:8000", out)
    assert count == 15
    assert len(qr_codes(out, tmp_path)) == 15
    assert len(list(tmp_path.glob("page-*.png"))) == 2  # 14 labels a page


def test_chinese_names_need_a_font(tmp_path: Path) -> None:
    inventory = inventory_with(tmp_path, 1)
    building = inventory.buildings[0]
    lift = building.equipment[0].model_copy(update={"name": "一号客梯"})
    inventory = inventory.model_copy(
        update={"buildings": [building.model_copy(update={"equipment": [lift]})]}
    )
    with pytest.raises(LabelError, match=r"lift-000.*--font"):
        write_sheet(inventory, "tower-a", "https://c.example", tmp_path / "l.pdf")
    font = Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf")
    if font.is_file():  # Debian's fonts-droid-fallback, which Chromium brings
        write_sheet(inventory, "tower-a", "https://c.example", tmp_path / "l.pdf", font=font)
        assert qr_codes(tmp_path / "l.pdf", tmp_path) == [
            f"https://c.example/equipment/lift-000?site={inventory.site.id}"
        ]


def test_a_building_without_equipment_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabelError, match="building 'tower-a' has no equipment"):
        labels_for(inventory_with(tmp_path, 0), "tower-a", "https://c.example")


def test_an_unknown_building_names_the_known_ones() -> None:
    with pytest.raises(LabelError, match=r"'tower-z' is not in the inventory.*tower-a, tower-b"):
        labels_for(load_inventory(DEMO), "tower-z", "https://c.example")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("console.example", "http:// or https://"),
        ("ftp://console.example", "http:// or https://"),
        ("https://", "http:// or https://"),
        ("https://c.example/?a=1", "query"),
        ("https://c.example/#/jobs", "fragment"),
        ("https://u:p@c.example", "credentials"),
        ("https://c.example:99999", "not a valid address"),
        ("https://c.example/" + "x" * 300, "at most 200"),
    ],
)
def test_bad_urls_are_refused(url: str, why: str) -> None:
    with pytest.raises(LabelError, match=why):
        console_base(url)


def test_a_path_prefix_is_kept() -> None:
    assert console_base(" https://c.example/plantroom/ ") == "https://c.example/plantroom"


def test_the_command_reports_a_bad_url_plainly(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        ["labels", "-i", str(DEMO), "-b", "tower-a", "--url", "mailto:x", "--out",
         str(tmp_path / "l.pdf")],
    )  # fmt: skip
    assert result.exit_code == 2
    assert "--url 'mailto:x' must be an http:// or https:// address" in result.output
    assert not (tmp_path / "l.pdf").exists()


def test_register_only_assets_get_labels_from_an_exported_register(tmp_path: Path) -> None:
    register = tmp_path / "assets.csv"
    register.write_text(
        "id,kind,building,floor,zone,name,connected\n"
        "pump-a1,pump,tower-a,B2,plant-room,,yes\n"  # the inventory's own: labelled once
        "gen-a1,generator,tower-a,B2,generator room,Stand-by generator,no\n"
        "fan-b1,fan,tower-b,B1,car park,Exhaust fan,no\n",  # another building's
        encoding="utf-8",
    )
    inventory = load_inventory(DEMO)
    labels = labels_for(inventory, "tower-a", "https://c.example", read_assets(register))
    ids = [e.id for _, e in inventory.equipment({"tower-a"})]
    assert [label.equipment_id for label in labels] == [*ids, "gen-a1"]
    gen = labels[-1]
    assert (gen.name, gen.kind, gen.where) == (
        "Stand-by generator",
        "generator",
        "building tower-a · floor B2 · generator room",
    )
    assert gen.url == "https://c.example/equipment/gen-a1?site=harbour"
    out = tmp_path / "labels.pdf"
    result = CliRunner().invoke(
        app,
        ["labels", "-i", str(DEMO), "-b", "tower-a", "--url", "https://c.example",
         "--out", str(out), "--assets", str(register)],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "https://c.example/equipment/gen-a1?site=harbour" in qr_codes(out, tmp_path)


def test_a_bad_register_file_is_named_line_by_line(tmp_path: Path) -> None:
    register = tmp_path / "assets.csv"
    register.write_text("id,install_date\ngen-a1,soon\n", encoding="utf-8")
    with pytest.raises(LabelError) as caught:
        read_assets(register)
    assert str(caught.value) == (
        f"{register}:2: install_date: 'soon' is not a date; write YYYY-MM-DD"
    )
