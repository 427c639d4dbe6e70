"""The asset register against a real database, once on SQLite and once on PostgreSQL:
register-only assets through the API, the CSV import and export, a PM job, a public report
and the indicators for an asset, and the inventory leaving the register's assets alone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from cloud import registry
from cloud.enums import Role, WorkOrderKind
from cloud.equipment import Equipment
from cloud.workorders.model import WorkOrder
from plantroom.inventory import load_inventory
from tests.cloud.harness import Api, error, serve, settings_for
from tests.cloud.requests.desk import REPORTER
from tests.cloud.rows import equipment_row

pytestmark = pytest.mark.integration

STAFF = {"tech1": Role.TECHNICIAN, "super1": Role.SUPERVISOR, "admin1": Role.ADMIN}
GENERATOR = {
    "id": "gen-1",
    "kind": "generator",
    "building": "b1",
    "floor": "B2",
    "name": "Stand-by generator",
    "make": "Cummins",
    "model": "C550 D5",
    "serial": "SN-0001",
    "install_date": "2021-04-01",
    "warranty_end": "2026-03-31",
    "supplier": "PowerCo",
    "documents": [{"title": "Manual", "url": "https://example.com/c550.pdf"}],
}


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Api]:
    """The app on tests/data/cloud-s1.yaml (pumps p1, p2 in b1; lift e1, fire panel f1 in
    b2) on the test's database."""
    settings = settings_for(tmp_path, database_url=database_url)
    async with serve(settings, users=STAFF) as a:
        yield a


async def create(api: Api, body: dict[str, Any], who: str = "super1") -> dict[str, Any]:
    response = await api.post("/api/assets", who, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def patch(api: Api, equipment_id: str, body: dict[str, Any]) -> Any:
    return await api.client.patch(
        f"/api/assets/{equipment_id}", json=body, headers=api.auth("super1")
    )


async def upload(api: Api, text: str, **params: Any) -> Any:
    return await api.client.post(
        "/api/assets/import",
        content=text.encode("utf-8"),
        params={"filename": "site/assets.csv", **params},
        headers={**api.auth("super1"), "Content-Type": "text/csv"},
    )


async def test_a_supervisor_registers_changes_and_retires_an_asset(api: Api) -> None:
    gen = await create(api, GENERATOR)
    assert gen["connected"] is False and gen["kind"] == "generator" and gen["site"] == "s1"
    assert gen["documents"] == GENERATOR["documents"]
    assert (await api.get("/api/assets/gen-1")).json() == gen
    assert (await api.get("/api/equipment/gen-1")).json()["make"] == "Cummins"

    error(await api.post("/api/assets", "tech1", json=GENERATOR), 403, "forbidden")
    taken = error(await api.post("/api/assets", "super1", json=GENERATOR), 409, "conflict")
    assert taken == "id: 'gen-1' is already registered (s1/b1, generator, register-only)"
    clash = {**GENERATOR, "id": "p1"}
    assert error(await api.post("/api/assets", "admin1", json=clash), 409, "conflict") == (
        "id: 'p1' is already registered (s1/b1, pump, connected, from the inventory)"
    )
    nowhere = {**GENERATOR, "id": "gen-2", "building": "b9"}
    assert "building: 'b9' is not a building of site 's1' (known: b1, b2)" in error(
        await api.post("/api/assets", "super1", json=nowhere), 422, "invalid_request"
    )
    pump = {**GENERATOR, "id": "gen-2", "kind": "pump"}
    assert "'pump' is a telemetry kind" in error(
        await api.post("/api/assets", "super1", json=pump), 422, "invalid_request"
    )

    # the register fields of connected equipment are the register's; its kind is not
    changed = await patch(api, "p1", {"make": "Grundfos", "warranty_end": "2027-01-31"})
    assert changed.status_code == 200, changed.text
    assert (changed.json()["make"], changed.json()["warranty_end"]) == ("Grundfos", "2027-01-31")
    owned = error(await patch(api, "p1", {"name": "Renamed"}), 422, "invalid_request")
    assert owned == "name: the inventory owns it on connected equipment (empty); change it there"
    moved = await patch(api, "gen-1", {"building": "b2", "serial": None})
    assert (moved.json()["building"], moved.json()["serial"]) == ("b2", None)
    assert moved.json()["make"] == "Cummins"  # left out: kept

    listed = (await api.get("/api/assets", params={"connected": "false"})).json()
    assert [e["id"] for e in listed["items"]] == ["gen-1"]
    found = (await api.get("/api/assets", params={"q": "grundFOS"})).json()
    assert [e["id"] for e in found["items"]] == ["p1"]
    by_kind = (await api.get("/api/assets", params={"kind": "pump", "building": "b1"})).json()
    assert [e["id"] for e in by_kind["items"]] == ["p1", "p2"]

    refused = await api.post("/api/assets/p1/retire", "super1")
    assert error(refused, 409, "inventory_owned").startswith("'p1' is connected equipment")
    retired = await api.post("/api/assets/gen-1/retire", "super1")
    assert retired.status_code == 200 and retired.json()["in_inventory"] is False
    assert (await api.get("/api/assets", params={"connected": "false"})).json()["total"] == 0
    again = error(await patch(api, "gen-1", {"make": "x"}), 409, "conflict")
    assert again == "id: 'gen-1' is retired; a retired id is not used again"


CSV = (
    "id,kind,building,floor,name,make,model,install_date,warranty_end,documents\n"
    "ext-b2-1,extinguisher,b2,1,Lobby extinguisher,Amerex,B500,2024-05-01,2029-05-01,"
    '"Certificate <https://example.com/cert.pdf?a=1;b=2>"\n'
    "tank-1,water_tank,b1,R,Roof tank,,,2019-01-01,,\n"
    "p1,pump,b1,,,Grundfos,CR 10-4,2020-06-01,2025-06-01,\n"
)


async def count(api: Api) -> int:
    with api.db.session() as session:
        return session.scalar(select(func.count()).select_from(Equipment)) or 0


async def test_a_csv_file_imports_all_or_nothing_and_exports_back_unchanged(api: Api) -> None:
    before = await count(api)
    bad = CSV + "gen-9,generator,b7,,,,,2024-02-30,,\nf1,extinguisher,b2,,,,,,,\n"
    refused = await upload(api, bad)
    assert error(refused, 422, "invalid_csv").splitlines() == [
        "site/assets.csv:5: install_date: '2024-02-30' is not a date; write YYYY-MM-DD",
        "site/assets.csv:6: kind: the inventory owns it on connected equipment ('fire_panel'); "
        "change it there",
    ]
    assert refused.json()["error"]["details"][0] == {
        "line": 5,
        "field": "install_date",
        "problem": "'2024-02-30' is not a date; write YYYY-MM-DD",
    }
    unknown = await upload(api, CSV + "gen-9,generator,b7,,,,,,,\n")
    assert error(unknown, 422, "invalid_csv").startswith(
        "site/assets.csv:5: building: 'b7' is not a building of site 's1'"
    )
    assert await count(api) == before  # nothing of either file was kept

    checked = await upload(api, CSV, dry_run="true")
    assert checked.status_code == 200, checked.text
    assert checked.json() == {
        "rows": 3,
        "created": ["ext-b2-1", "tank-1"],
        "updated": ["p1"],
        "unchanged": 0,
        "dry_run": True,
    }
    assert await count(api) == before

    done = await upload(api, CSV)
    assert done.status_code == 200, done.text
    assert (done.json()["created"], done.json()["updated"]) == (["ext-b2-1", "tank-1"], ["p1"])
    assert await count(api) == before + 2
    ext = (await api.get("/api/assets/ext-b2-1")).json()
    assert ext["documents"] == [
        {"title": "Certificate", "url": "https://example.com/cert.pdf?a=1;b=2"}
    ]
    assert (ext["floor"], ext["install_date"], ext["connected"]) == ("1", "2024-05-01", False)
    p1 = (await api.get("/api/assets/p1")).json()
    assert (p1["kind"], p1["make"], p1["model"]) == ("pump", "Grundfos", "CR 10-4")

    exported = await api.get("/api/assets.csv")
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert lines[0].startswith("id,kind,building,floor,zone,name,make,model,serial,")
    assert len(lines) == 1 + before + 2
    back = await upload(api, exported.text)
    assert back.json() == {
        "rows": before + 2,
        "created": [],
        "updated": [],
        "unchanged": before + 2,
        "dry_run": False,
    }
    only = await api.get("/api/assets.csv", params={"connected": "false", "building": "b2"})
    assert [line.split(",")[0] for line in only.text.splitlines()] == ["id", "ext-b2-1"]

    latin = await api.client.post(
        "/api/assets/import",
        content="id,name\ntank-1,Réservoir\n".encode("latin-1"),
        headers={**api.auth("super1"), "Content-Type": "text/csv"},
    )
    assert error(latin, 422, "invalid_csv") == (
        "assets.csv:2: file: not UTF-8 (byte 0xe9 at offset 16); save it as UTF-8"
    )
    error(
        await api.client.post(
            "/api/assets/import",
            content=CSV.encode(),
            headers={**api.auth("tech1"), "Content-Type": "text/csv"},
        ),
        403,
        "forbidden",
    )


async def test_plans_requests_and_indicators_cover_assets(api: Api) -> None:
    await create(api, GENERATOR)
    await create(api, {"id": "ext-1", "kind": "extinguisher", "building": "b2"})
    scheduler = api.app.state.pm_scheduler
    scheduler.evaluate()  # first due a month on: 2026-04-01, raised 3 days before
    api.clock.advance(days=28, hours=20)
    numbers = scheduler.evaluate().raised
    with api.db.session() as session:
        jobs = {
            (wo.pm_plan_id, wo.equipment_id): wo
            for wo in session.scalars(select(WorkOrder).where(WorkOrder.number.in_(numbers)))
        }
        run_test = jobs[("generator.monthly_run_test", "gen-1")]
        assert run_test.team is not None and run_test.team.name == "electrical"
        assert run_test.title == "Generator monthly run test: Stand-by generator (gen-1)"
        assert ("extinguisher.monthly_check", "ext-1") in jobs
        number = run_test.number
    detail = (await api.get(f"/api/work-orders/{number}", "super1")).json()
    steps = [s["item"] for s in detail["checklist"]]
    assert steps[0].startswith("Check the fuel, lubricating oil and coolant levels")
    assert len(steps) == 7

    where = (await api.client.get("/api/public/locations/ext-1")).json()
    assert (where["building"], where["equipment_id"], where["category"]) == (
        "b2",
        "ext-1",
        "fire_safety",
    )
    before = (await api.get("/api/kpis", params={"building": "b2"})).json()["indicators"]
    assert before["fire_good_pct"]["denominator"] == 2  # the panel f1 and the extinguisher
    reported = await api.client.post(
        "/api/public/requests",
        data={"code": "ext-1", "what": "the seal is broken", **REPORTER},
    )
    assert reported.status_code == 201, reported.text
    with api.db.session() as session:
        repair = session.scalars(
            select(WorkOrder).where(
                WorkOrder.equipment_id == "ext-1", WorkOrder.kind == WorkOrderKind.REQUEST
            )
        ).one()
        assert repair.team is not None and repair.team.name == "fire"
    after = (await api.get("/api/kpis", params={"building": "b2"})).json()["indicators"]
    assert (after["fire_good_pct"]["numerator"], after["fire_good_pct"]["denominator"]) == (1, 2)
    assert after["equipment_good_pct"]["denominator"] == 3  # e1, f1, ext-1


async def test_the_inventory_leaves_the_register_alone_and_adopts_what_it_gains(
    api: Api, tmp_path: Path
) -> None:
    await create(api, GENERATOR)
    await create(api, {"id": "pump-x", "kind": "pump_manual", "building": "b1", "make": "KSB"})
    inventory = api.state.inventory
    with api.db.session() as session:
        assert registry.sync_inventory(session, inventory) == (0, 0, 0)
        assert equipment_row(session, "gen-1").in_inventory  # type: ignore[union-attr]
    grown = tmp_path / "grown.yaml"
    grown.write_text(
        (tmp_path / "site.yaml").read_text(encoding="utf-8")
        + "      - {id: pump-x, kind: pump, profile: plantroom-sim-pump,\n"
        "         connection: {type: modbus_tcp, host: 127.0.0.1, port: 5021, unit: 13}}\n",
        encoding="utf-8",
    )
    with api.db.session() as session:
        registry.sync_inventory(session, load_inventory(grown))
        adopted = equipment_row(session, "pump-x")
        assert adopted is not None
        assert (adopted.connected, adopted.kind, adopted.building) == (True, "pump", "b2")
        assert adopted.make == "KSB"  # its register fields stay
