"""Several sites in one service: a folder of inventories, each site's zone, site and building
ids unique across the sites (a collision names both files and lines), equipment ids unique
within their site only."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from cloud import registry
from cloud.db import Database
from cloud.enums import Channel, Priority, Role
from cloud.equipment import Equipment
from cloud.pm.scheduler import PmScheduler
from cloud.rules.loader import load_rules
from cloud.sites import Sites, inventory_files
from cloud.sla import load_sla
from cloud.users.service import add_user
from cloud.workorders import creation
from cloud.workorders.model import WorkOrder
from plantroom.errors import ConfigError
from tests.cloud.harness import raise_alarm
from tests.cloud.sites import site_yaml


def two_sites(tmp_path: Path, a_pumps: tuple[str, ...], b_pumps: tuple[str, ...]) -> Path:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "a.yaml").write_text(site_yaml("north", "Asia/Hong_Kong", "n1", *a_pumps))
    (folder / "b.yml").write_text(site_yaml("south", "Europe/London", "s1", *b_pumps))
    (folder / "notes.txt").write_text("not an inventory")
    return folder


def test_one_file_is_one_site(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(site_yaml("only", "UTC", "b1", "pump-1"))
    assert inventory_files(path) == [path]
    sites = Sites.load(path)
    assert sites.served == ("only",)
    assert sites.zone_of("only") == ZoneInfo("UTC")
    assert sites.buildings() == {"b1"}


def test_a_folder_serves_each_of_its_sites_in_its_own_zone(tmp_path: Path) -> None:
    sites = Sites.load(two_sites(tmp_path, ("pump-n1",), ("pump-s1", "pump-s2")))
    assert sites.served == ("north", "south")
    assert sites.zone_of("north") == ZoneInfo("Asia/Hong_Kong")
    assert sites.zone_of("south") == ZoneInfo("Europe/London")
    assert sites.zone_of(None) == ZoneInfo("Asia/Hong_Kong")  # the first site's
    assert sites.site_of("s1") == "south"
    assert sites.site_of("elsewhere") is None
    assert sites.buildings(["south"]) == {"s1"}
    assert sites.by_building() == {"n1": "north", "s1": "south"}
    zones = sites.equipment_zones()
    assert zones["south/pump-s2"] == ZoneInfo("Europe/London") and zones["north/pump-n1"] != UTC
    assert sites.get("south").site.name == "Site south"


def test_two_sites_may_each_have_an_equipment_id(tmp_path: Path) -> None:
    sites = Sites.load(two_sites(tmp_path, ("pump-1", "pump-2"), ("pump-9", "pump-2")))
    zones = sites.equipment_zones()
    assert zones["north/pump-2"] == ZoneInfo("Asia/Hong_Kong")
    assert zones["south/pump-2"] == ZoneInfo("Europe/London")
    assert sorted((inv.site.id, e.id) for inv, _, e in sites.equipment()) == [
        ("north", "pump-1"),
        ("north", "pump-2"),
        ("south", "pump-2"),
        ("south", "pump-9"),
    ]


def test_a_site_or_building_id_in_two_files_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "sites"
    folder.mkdir()
    (folder / "a.yaml").write_text(site_yaml("same", "UTC", "tower", "pump-1"))
    (folder / "b.yaml").write_text(site_yaml("same", "UTC", "tower", "pump-2"))
    with pytest.raises(ConfigError) as err:
        Sites.load(folder)
    assert f"{folder / 'b.yaml'}:2: site id 'same' is also used at {folder / 'a.yaml'}:2" in str(
        err.value
    )
    assert f"{folder / 'b.yaml'}:6: building id 'tower'" in str(err.value)


def test_a_folder_without_inventories_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="holds no"):
        Sites.load(tmp_path)


def test_a_bad_zone_names_it(tmp_path: Path) -> None:
    path = tmp_path / "site.yaml"
    path.write_text(site_yaml("only", "Mars/Olympus", "b1", "pump-1"))
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        Sites.load(path)


def test_records_are_given_their_site_as_they_are_inserted(tmp_path: Path) -> None:
    """An alarm and a job of site south's equipment are south's; a job asked for in a building
    of site north, without equipment, is north's."""
    sites = Sites.load(two_sites(tmp_path, ("pump-n1",), ("pump-s1",)))
    db = Database(f"sqlite:///{tmp_path}/cloud.sqlite")
    now = datetime(2026, 12, 1, tzinfo=UTC)
    sla = load_sla()
    rule = next(r for r in load_rules() if r.kind == "pump")
    try:
        db.migrate()
        with db.session() as session:
            for inventory in sites.inventories:
                registry.sync_inventory(session, inventory)
            # each site's sync retires only its own: north's equipment outlives south's sync
            assert {(e.id, e.site, e.in_inventory) for e in session.scalars(select(Equipment))} == {
                ("pump-n1", "north", True),
                ("pump-s1", "south", True),
            }
            user = add_user(session, "tech", Role.TECHNICIAN, now=now)
            alarm = raise_alarm(session, "pump-s1", rule, now=now, sla=sla)
            asked = creation.create_request(
                session,
                user=user,
                title="Leak by the door",
                description=None,
                priority=Priority.NORMAL,
                equipment_id=None,
                building="n1",
                now=now,
                sla=sla,
                channel=Channel.API,
            )
            session.flush()
            assert alarm.site == "south"
            jobs = session.scalars(select(WorkOrder).order_by(WorkOrder.id)).all()
            assert [(w.equipment_id, w.building, w.site) for w in jobs] == [
                ("pump-s1", "s1", "south"),
                (None, "n1", "north"),
            ]
            assert asked.site == "north"
    finally:
        db.close()


def test_pm_plans_fall_due_in_their_sites_zone(tmp_path: Path) -> None:
    sites = Sites.load(two_sites(tmp_path, ("pump-n1",), ("pump-s1",)))
    db = Database(f"sqlite:///{tmp_path}/cloud.sqlite")
    try:
        scheduler = PmScheduler(
            db, [], inventory=sites, clock=lambda: datetime.now(UTC), sla=load_sla()
        )
        assert scheduler.zone_of("n1") == ZoneInfo("Asia/Hong_Kong")
        assert scheduler.zone_of("s1") == ZoneInfo("Europe/London")
        one_zone = PmScheduler(
            db,
            [],
            inventory=sites.first,
            clock=lambda: datetime.now(UTC),
            sla=load_sla(),
            timezone=UTC,
        )
        assert one_zone.zone_of("s1") == UTC  # given one zone: every plan in it
    finally:
        db.close()
