"""The generated dashboards against Grafana's dashboard model and Plantroom's contract."""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from dashboards.build import GENERATED_DIR, build_all, render, stale_files, write_generated
from dashboards.cli import app
from dashboards.errors import DashboardError
from dashboards.grafana import DATASOURCE_UID, SCHEMA_VERSION
from dashboards.profiles import DEFAULT_PROFILES_DIR, field_type, load_points
from plantroom.kinds import KINDS
from tests.harness import REPO

PROVISIONING = REPO / "dashboards" / "provisioning"
EXPECTED_UIDS = {
    "plantroom-portfolio",
    "plantroom-lifts",
    "plantroom-pumps",
    "plantroom-fire-panels",
    "plantroom-lighting",
    "plantroom-pipeline",
    "plantroom-work-orders",
}
# The InfluxDB datasource's macros and Grafana's global variables usable in InfluxQL.
MACROS = {"timeFilter", "__interval", "__interval_ms", "interval", "__range_s", "__range"}
VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
ALIAS_RE = re.compile(r"\$(?:tag_\w+|col|m|measurement)|\$(\w+)")


@pytest.fixture(scope="module")
def dashboards() -> dict[str, dict[str, Any]]:
    return build_all()


def walk(node: Any, key: str) -> Iterator[Any]:
    """Every value stored under `key` anywhere in a JSON tree."""
    if isinstance(node, dict):
        for k, v in node.items():
            if k == key:
                yield v
            yield from walk(v, key)
    elif isinstance(node, list):
        for item in node:
            yield from walk(item, key)


def used_variables(text: str) -> set[str]:
    return {a or b or c for a, b, c in VAR_RE.findall(text)}


def all_queries(d: dict[str, Any]) -> Iterator[tuple[str, str]]:
    for var in d["templating"]["list"]:
        if var["type"] == "query":
            yield f"variable {var['name']}", var["query"]
    for ann in d["annotations"]["list"]:
        yield f"annotation {ann['name']}", ann["query"]
    for panel in d["panels"]:
        for t in panel.get("targets", []):
            yield f"panel {panel['title']} {t['refId']}", t["query"]


def test_the_generated_files_are_up_to_date() -> None:
    assert stale_files() == [], "run `plantroom dashboards build` and commit dashboards/generated"


def test_uids_are_stable_unique_and_name_the_files(dashboards: dict[str, Any]) -> None:
    uids = [d["uid"] for d in dashboards.values()]
    assert len(uids) == len(set(uids))
    assert set(uids) == EXPECTED_UIDS
    for name, d in dashboards.items():
        assert name == f"{d['uid']}.json"
        assert len(d["uid"]) <= 40 and re.fullmatch(r"[a-z0-9-]+", d["uid"])
    assert {p.name for p in GENERATED_DIR.glob("*.json")} == set(dashboards)


def test_dashboard_model_basics(dashboards: dict[str, Any]) -> None:
    titles = [d["title"] for d in dashboards.values()]
    assert len(titles) == len(set(titles))
    for d in dashboards.values():
        assert d["schemaVersion"] == SCHEMA_VERSION == 39
        assert d["id"] is None and "plantroom" in d["tags"]
        assert d["time"]["to"] == "now" and d["refresh"]
        for panel in d["panels"]:
            assert panel["type"] in {
                "row",
                "timeseries",
                "stat",
                "gauge",
                "table",
                "state-timeline",
            }
            assert panel["title"]
            if panel["type"] != "row":
                assert panel["targets"], f"{d['uid']}: panel {panel['title']!r} has no query"
                refs = [t["refId"] for t in panel["targets"]]
                assert len(refs) == len(set(refs))


def test_panel_ids_are_unique_and_the_grid_does_not_overlap(dashboards: dict[str, Any]) -> None:
    for d in dashboards.values():
        ids = [p["id"] for p in d["panels"]]
        assert len(ids) == len(set(ids)), d["uid"]
        cells: dict[tuple[int, int], str] = {}
        for p in d["panels"]:
            pos = p["gridPos"]
            assert pos["w"] > 0 and pos["h"] > 0 and pos["x"] + pos["w"] <= 24, p["title"]
            for x in range(pos["x"], pos["x"] + pos["w"]):
                for y in range(pos["y"], pos["y"] + pos["h"]):
                    assert (x, y) not in cells, f"{d['uid']}: {p['title']} overlaps {cells[(x, y)]}"
                    cells[(x, y)] = p["title"]


def test_every_datasource_reference_resolves(dashboards: dict[str, Any]) -> None:
    provisioned = yaml.safe_load((PROVISIONING / "datasources" / "influxdb.yaml").read_text())
    uids = {ds["uid"] for ds in provisioned["datasources"]}
    assert uids == {DATASOURCE_UID}
    for d in dashboards.values():
        ds_vars = {v["name"] for v in d["templating"]["list"] if v["type"] == "datasource"}
        for v in d["templating"]["list"]:
            if v["type"] == "datasource":
                assert v["query"] == "influxdb"
                assert v["current"]["value"] in uids
        refs = list(walk(d, "datasource"))
        assert refs, d["uid"]
        for ref in refs:
            assert isinstance(ref, dict) and ref["type"] == "influxdb", ref
            uid = ref["uid"]
            var = re.fullmatch(r"\$\{(\w+)\}|\$(\w+)", uid)
            assert uid in uids or (var and (var.group(1) or var.group(2)) in ds_vars), uid


def test_every_variable_a_query_uses_is_defined_before_use(dashboards: dict[str, Any]) -> None:
    for d in dashboards.values():
        defined: set[str] = set()
        for var in d["templating"]["list"]:
            if var["type"] == "query":
                missing = used_variables(var["query"]) - defined - MACROS
                assert not missing, f"{d['uid']}: variable {var['name']} uses {missing}"
            defined.add(var["name"])
        for where, query in all_queries(d):
            missing = used_variables(query) - defined - MACROS
            assert not missing, f"{d['uid']}: {where} uses undefined {missing}"
        for panel in d["panels"]:
            for t in panel.get("targets", []):
                extra = {m for m in ALIAS_RE.findall(t.get("alias", "")) if m} - defined
                assert not extra, f"{d['uid']}: alias {t['alias']!r} uses {extra}"


def test_queries_are_raw_influxql_scoped_by_the_variables(dashboards: dict[str, Any]) -> None:
    for d in dashboards.values():
        names = {v["name"] for v in d["templating"]["list"]}
        for where, query in all_queries(d):
            assert re.match(r"(SELECT|SHOW TAG VALUES) ", query), f"{d['uid']} {where}"
            if query.startswith("SELECT"):
                assert "$timeFilter" in query, f"{d['uid']} {where}: no time filter"
                if d["uid"] == "plantroom-pipeline":
                    continue  # scoped per component: test_dashboards_pipeline.py
                for scope in ("site", "building", "equipment", "instance"):
                    if scope in names:
                        assert f"/^${scope}$/" in query or f'"{scope}" = ' in query, (
                            f"{d['uid']} {where}: ignores ${scope}"
                        )
        for panel in d["panels"]:
            for t in panel.get("targets", []):
                assert t["rawQuery"] is True and t["resultFormat"] in ("time_series", "table")


def test_scope_variables_are_chained(dashboards: dict[str, Any]) -> None:
    for d in dashboards.values():
        by_name = {v["name"]: v for v in d["templating"]["list"]}
        if "building" in by_name:
            assert "$site" in by_name["building"]["query"]
        if "equipment" in by_name:
            assert {"site", "building"} <= used_variables(by_name["equipment"]["query"])
        for v in d["templating"]["list"]:
            if v["type"] == "query":
                assert v["query"].startswith("SHOW TAG VALUES")
                assert v["multi"] and v["includeAll"]


def test_kind_dashboards_carry_alarm_work_order_and_maintenance_annotations(
    dashboards: dict[str, Any],
) -> None:
    for uid in EXPECTED_UIDS - {"plantroom-pipeline"}:
        d = dashboards[f"{uid}.json"]
        names = {a["name"]: a for a in d["annotations"]["list"]}
        assert set(names) == {"Alarms", "Work orders", "Maintenance"}, uid
        assert 'FROM "events"' in names["Alarms"]["query"]
        assert "alarm_" in names["Alarms"]["query"] and "wo_" in names["Work orders"]["query"]
        assert all(a["textColumn"] == "text" for a in names.values())
        # a maintenance window is a region: from its start to the end the cloud wrote with it
        maintenance = names["Maintenance"]
        assert "/^maintenance$/" in maintenance["query"]
        assert '"time_end_ms"' in maintenance["query"]
        assert maintenance["timeEndColumn"] == "time_end_ms"
        assert "timeEndColumn" not in names["Alarms"]


def test_kind_dashboards_read_only_points_the_profiles_define(
    dashboards: dict[str, Any],
) -> None:
    points = load_points()
    measurement_of = {"lifts": "elevator", "pumps": "pump", "fire-panels": "fire_panel"}
    measurement_of["lighting"] = "lighting"
    for short, kind in measurement_of.items():
        d = dashboards[f"plantroom-{short}.json"]
        for panel in d["panels"]:
            for t in panel.get("targets", []):
                assert f'FROM "{kind}"' in t["query"], f"{short}: {panel['title']}"
                fields = re.findall(r'\w+\("(\w+)"', t["query"])
                assert fields, f"{short}: {panel['title']} selects no field"
                for name in fields:
                    assert name in points[kind].points, f"{short}: {panel['title']}: {name}"


def test_state_panels_colour_every_enum_label(dashboards: dict[str, Any]) -> None:
    points = load_points()
    lifts = dashboards["plantroom-lifts.json"]
    mode = next(p for p in lifts["panels"] if p["title"] == "Mode")
    options = mode["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert set(options) == set(points["elevator"].enum("mode"))
    assert options["normal"]["color"] == "green"
    assert options["out_of_service"]["color"] != "green"


def test_a_point_missing_from_the_profiles_fails_the_build(tmp_path: Path) -> None:
    for path in DEFAULT_PROFILES_DIR.glob("*.yaml"):
        text = path.read_text().replace("name: drive_temperature", "name: drive_temp")
        (tmp_path / path.name).write_text(text)
    with pytest.raises(DashboardError, match="drive_temperature"):
        build_all(tmp_path)


def test_a_point_of_the_wrong_type_fails_the_build(tmp_path: Path) -> None:
    for path in DEFAULT_PROFILES_DIR.glob("*.yaml"):
        text = path.read_text()
        if "name: plantroom-sim-pump" in text:
            text = text.replace(
                "{name: dry_run, table: discrete, address: 0, type: bool",
                "{name: dry_run, table: input, address: 0, type: uint16",
            )
        (tmp_path / path.name).write_text(text)
    # the profile loader refuses it first: dry_run is a canonical boolean (docs/points.md)
    with pytest.raises(DashboardError, match=r"dry_run.*canonical pump point of type bool"):
        build_all(tmp_path)


def test_field_types_follow_the_profile_data_types() -> None:
    assert field_type({"type": "enum"}) == "string"
    assert field_type({"type": "bit"}) == "boolean"
    assert field_type({"type": "uint16"}) == "integer"
    assert field_type({"type": "uint16", "scale": 0.1}) == "float"
    assert field_type({"type": "float32"}) == "float"
    with pytest.raises(DashboardError, match="unknown data type 'decimal'"):
        field_type({"name": "x", "type": "decimal"})
    kinds = load_points()
    assert set(kinds) == set(KINDS)
    assert kinds["pump"].spec("discharge_pressure").field_type == "float"
    assert kinds["elevator"].spec("trips").field_type == "integer"


def test_bad_profiles_are_reported_with_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.yaml").write_text(
        "name: broken\nkind: escalator\nprotocol: modbus\n"
        "points: [{name: a, table: input, address: 0, type: uint16}]\n"
    )
    with pytest.raises(DashboardError, match=r"broken\.yaml:2: field kind"):
        load_points(tmp_path)
    with pytest.raises(DashboardError, match="no device profiles"):
        load_points(tmp_path / "empty")


def test_provisioning_points_grafana_at_the_generated_files() -> None:
    ds = yaml.safe_load((PROVISIONING / "datasources" / "influxdb.yaml").read_text())
    (source,) = ds["datasources"]
    assert source["type"] == "influxdb" and source["url"] == "http://influxdb:8086"
    assert source["jsonData"]["version"] == "InfluxQL"
    assert source["jsonData"]["dbName"] == source["database"] == "plantroom"
    providers = yaml.safe_load((PROVISIONING / "dashboards" / "plantroom.yaml").read_text())
    (provider,) = providers["providers"]
    assert provider["type"] == "file"
    assert provider["options"]["path"] == "/var/lib/grafana/dashboards/plantroom"


def test_write_generated_replaces_stale_files(tmp_path: Path) -> None:
    (tmp_path / "old-dashboard.json").write_text("{}")
    written = write_generated(tmp_path)
    assert sorted(p.name for p in written) == sorted(p.name for p in tmp_path.glob("*.json"))
    assert not (tmp_path / "old-dashboard.json").exists()
    assert stale_files(tmp_path) == []
    for path in written:
        assert path.read_text() == render(json.loads(path.read_text()))


def test_cli_build_and_check(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "generated"
    result = runner.invoke(app, ["build", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert len(list(out.glob("*.json"))) == len(EXPECTED_UIDS)
    assert runner.invoke(app, ["build", "--check", "--out", str(out)]).exit_code == 0

    lifts = out / "plantroom-lifts.json"
    lifts.write_text(lifts.read_text().replace("Drive temperature", "Drive temp"))
    shutil.copy(lifts, out / "someone-elses.json")
    result = runner.invoke(app, ["build", "--check", "--out", str(out)])
    assert result.exit_code == 1
    assert "plantroom-lifts.json: differs from the generator" in result.output
    assert "someone-elses.json: no longer generated" in result.output


def test_cli_build_reports_a_bad_profiles_dir(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["build", "--out", str(tmp_path / "o"), "--profiles", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "no device profiles" in result.output
