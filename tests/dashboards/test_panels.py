"""The panel-spec builder's queries over a board's sources (no Grafana, no InfluxDB)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from dashboards import grafana as g
from dashboards.errors import DashboardError
from dashboards.measurements import event_fields, work_order_fields
from dashboards.panels import (
    STATE,
    Combined,
    EnumStates,
    Panel,
    Rows,
    Series,
    Source,
    build_panel,
    trend,
)
from dashboards.profiles import FieldSet, PointSpec

SCOPE = ('"site" =~ /^$site$/',)
WORK_ORDERS = {"": Source(work_order_fields(), SCOPE, by=("site", "priority"))}


def test_combined_sums_each_series_latest_value() -> None:
    query = Combined(("open", "overdue"), per=("priority",))
    assert query.text(WORK_ORDERS[""]) == (
        'SELECT sum("open") AS "open", sum("overdue") AS "overdue" FROM '
        '(SELECT last("open") AS "open", last("overdue") AS "overdue" FROM "work_orders" '
        'WHERE "site" =~ /^$site$/ AND $timeFilter GROUP BY "site", "priority") '
        'WHERE $timeFilter GROUP BY "priority"'
    )


def test_combined_per_interval_and_over_other_series() -> None:
    query = Combined("mttr_s", combine="mean", by=("site",), per_interval=True)
    assert query.text(WORK_ORDERS[""]) == (
        'SELECT mean("mttr_s") AS "mttr_s" FROM (SELECT last("mttr_s") AS "mttr_s" FROM '
        '"work_orders" WHERE "site" =~ /^$site$/ AND $timeFilter GROUP BY time($__interval), '
        '"site") WHERE $timeFilter GROUP BY time($__interval)'
    )


def test_combined_refuses_a_field_it_cannot_add_up() -> None:
    text = FieldSet("things", {"label": PointSpec("label", "string", "measurement", "")}, ["t"])
    with pytest.raises(DashboardError, match="things field 'label' is a string"):
        Combined("label").text(Source(text, SCOPE))
    with pytest.raises(DashboardError, match="nope"):
        Combined("nope").text(WORK_ORDERS[""])


def test_rows_are_the_newest_first_with_checked_fields() -> None:
    events = Source(event_fields(), SCOPE)
    assert Rows('"type", {text:string}', limit=5).text(events) == (
        'SELECT "type", "text" FROM "events" WHERE "site" =~ /^$site$/ AND $timeFilter '
        "ORDER BY time DESC LIMIT 5"
    )
    with pytest.raises(DashboardError, match="priority"):
        Rows("{priority:number}").text(events)


def test_states_come_from_the_source_the_panel_names() -> None:
    modes = FieldSet(
        "lift", {"mode": PointSpec("mode", "string", "measurement", "", ("up", "fault"))}, ["p"]
    )
    spec = Panel(
        viz=STATE,
        title="Mode",
        queries=Series("last({mode:string})", source="lift"),
        states=EnumStates("mode", source="lift"),
        w=12,
        h=8,
    )
    panel = build_panel(spec, {"lift": Source(modes, SCOPE)})
    options = panel["fieldConfig"]["defaults"]["mappings"][0]["options"]
    assert list(options) == ["up", "fault"]
    with pytest.raises(DashboardError, match="no query source 'lift'"):
        build_panel(spec, WORK_ORDERS)
    main_query = replace(spec, queries=Series('last("open")'))
    with pytest.raises(DashboardError, match="board's source 'lift', and this board has none"):
        build_panel(main_query, WORK_ORDERS)


def test_a_trend_draws_its_thresholds_as_lines_only_when_it_has_some() -> None:
    def style(look: g.Look) -> str:
        panel = build_panel(trend("MTTR", Series("mean({mttr_s:number})"), "", look), WORK_ORDERS)
        mode: str = panel["fieldConfig"]["defaults"]["custom"]["thresholdsStyle"]["mode"]
        return mode

    bounded = g.Look(unit="s", thresholds=g.thresholds((None, g.GOOD), (3600, g.BAD)))
    assert style(bounded) == "line"
    assert style(g.Look(unit="s")) == "off"
