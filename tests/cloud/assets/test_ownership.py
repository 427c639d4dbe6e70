"""Who owns what, without a database: the inventory owns the kind and place of connected
equipment, the register owns its register fields and the whole of a register-only asset."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from cloud.assets.schemas import AssetChange, AssetIn
from cloud.assets.service import SiteScope, apply_change, check_change, new_row
from cloud.enums import EquipmentStatus
from cloud.equipment import Equipment

SITE = SiteScope("s1", frozenset({"b1", "b2"}))


def pump() -> Equipment:
    return Equipment(
        id="p1",
        site="s1",
        building="b1",
        kind="pump",
        name="Booster pump",
        profile="plantroom-sim-pump",
        tags={},
        in_inventory=True,
        connected=True,
        status=EquipmentStatus.ONLINE,
        last_values={},
    )


def test_connected_equipment_takes_register_fields_only() -> None:
    row = pump()
    same = AssetChange.model_validate({"kind": "", "building": "b1", "make": "Grundfos"})
    assert check_change(SITE, row, same) == []
    assert apply_change(row, same) is True
    assert (row.kind, row.building, row.make) == ("pump", "b1", "Grundfos")
    assert apply_change(row, same) is False  # nothing differs the second time

    moved = AssetChange.model_validate({"building": "b2", "name": "Renamed"})
    assert check_change(SITE, row, moved) == [
        ("building", "the inventory owns it on connected equipment ('b1'); change it there"),
        ("name", "the inventory owns it on connected equipment ('Booster pump'); change it there"),
    ]


def test_a_register_only_asset_is_the_registers() -> None:
    asset = AssetIn.model_validate(
        {"id": "gen-1", "kind": "generator", "building": "b1", "install_date": "2021-04-01"}
    )
    row = new_row(SITE, asset)
    assert (row.connected, row.profile, row.site, row.documents) == (False, "", "s1", None)
    change = AssetChange.model_validate(
        {
            "kind": "fan",
            "building": "b2",
            "install_date": None,
            "documents": [{"title": "Manual", "url": "https://example.com/m.pdf"}],
        }
    )
    assert check_change(SITE, row, change) == []
    assert apply_change(row, change) is True
    assert (row.kind, row.building, row.install_date) == ("fan", "b2", None)
    assert row.documents == [{"title": "Manual", "url": "https://example.com/m.pdf"}]
    pump = AssetChange.model_validate({"kind": "pump"})
    assert check_change(SITE, row, pump) == [
        ("kind", "'pump' is a telemetry kind: such equipment comes from the site inventory")
    ]
    cleared = AssetChange.model_validate({"kind": None, "building": "b9"})
    assert check_change(SITE, row, cleared) == [
        ("kind", "required"),
        ("building", "'b9' is not a building of site 's1' (known: b1, b2)"),
    ]
    row.install_date = date(2024, 5, 1)
    early = AssetChange.model_validate({"warranty_end": "2024-04-30"})
    assert check_change(SITE, row, early) == [
        ("warranty_end", "2024-04-30 is before install_date 2024-05-01")
    ]
    row.in_inventory = False
    assert check_change(SITE, row, AssetChange()) == [
        ("id", "'gen-1' is retired; a retired id is not used again")
    ]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"id": "gen 1"}, "'gen 1': letters, digits, '.', '_' or '-', at most 64"),
        ({"install_date": 20210401}, "a date is written YYYY-MM-DD"),
        ({"install_date": "2021-04-01T08:00"}, "is not a date; write YYYY-MM-DD"),
        ({"warranty_end": "1899-12-31"}, "1899-12-31 is not between 1900 and 2199"),
        ({"make": "x" * 129}, "at most 128 characters"),
        ({"documents": [{"title": "A; B", "url": "https://x.example"}]}, "may not contain"),
        ({"documents": [{"title": "M", "url": "https://x.example"}] * 21}, "at most 20 items"),
        ({"kind": "fire_panel"}, "'fire_panel' is a telemetry kind"),
    ],
)
def test_bad_values_are_named(body: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        AssetIn.model_validate({"id": "gen-1", "kind": "generator", "building": "b1", **body})


def test_dates_are_iso_and_the_warranty_follows_the_install() -> None:
    asset = AssetIn.model_validate(
        {
            "id": "g",
            "kind": "generator",
            "building": "b1",
            "install_date": "2021-04-01",
            "warranty_end": "2021-04-01",
        }
    )
    assert asset.warranty_end == date(2021, 4, 1)
    with pytest.raises(ValidationError, match="is before install_date 2021-04-01"):
        AssetChange.model_validate({"install_date": "2021-04-01", "warranty_end": "2021-03-31"})
