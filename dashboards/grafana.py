"""Builders for the Grafana dashboard JSON model (schemaVersion 39, Grafana 10 and 11).

Plain dictionaries, shaped as Grafana itself saves them, so the generated files diff cleanly
against a dashboard exported from the UI. Every query targets the InfluxDB datasource through
the `$datasource` variable, whose default is the provisioned `plantroom-influxdb`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

JSON = dict[str, Any]

SCHEMA_VERSION = 39
DATASOURCE_UID = "plantroom-influxdb"
DATASOURCE_NAME = "Plantroom InfluxDB"
DATASOURCE_VAR = "datasource"
DATASOURCE: JSON = {"type": "influxdb", "uid": "${" + DATASOURCE_VAR + "}"}
GRID_WIDTH = 24
TAG = "plantroom"
FOLDER_UID = "plantroom"
FOLDER_TITLE = "Plantroom"

# Named colours of Grafana's palette, for states.
GOOD = "green"
BAD = "red"
WARN = "orange"
NOTICE = "yellow"
IDLE = "blue"
OFF = "text"
MUTED = "purple"


def _ds() -> JSON:
    return dict(DATASOURCE)


# --- queries -----------------------------------------------------------------------------


def target(query: str, *, alias: str = "", table: bool = False) -> JSON:
    """One raw InfluxQL query. The refId is set when the panel is built."""
    t: JSON = {
        "datasource": _ds(),
        "query": query,
        "rawQuery": True,
        "resultFormat": "table" if table else "time_series",
    }
    if alias:
        t["alias"] = alias
    return t


# --- field configuration -----------------------------------------------------------------


def thresholds(*steps: tuple[float | None, str]) -> JSON:
    """Absolute thresholds; the first step's value is None (the base colour)."""
    return {
        "mode": "absolute",
        "steps": [{"color": color, "value": value} for value, color in steps],
    }


def value_mappings(states: Mapping[str, str]) -> list[JSON]:
    """Colour each state label (enum text, "true", "false") as given."""
    options = {
        label: {"color": color, "index": i, "text": label}
        for i, (label, color) in enumerate(states.items())
    }
    return [{"type": "value", "options": options}]


def bool_mappings(true_text: str, true_color: str, false_text: str, false_color: str) -> list[JSON]:
    return [
        {
            "type": "value",
            "options": {
                "true": {"color": true_color, "index": 0, "text": true_text},
                "false": {"color": false_color, "index": 1, "text": false_text},
            },
        }
    ]


def number_mappings(states: Mapping[int, tuple[str, str]]) -> list[JSON]:
    """Show each listed number as a word in a colour: {1: ("connected", GOOD), ...}."""
    options = {
        str(value): {"color": color, "index": i, "text": text}
        for i, (value, (text, color)) in enumerate(states.items())
    }
    return [{"type": "value", "options": options}]


@dataclass
class Look:
    """The field configuration shared by every panel type."""

    unit: str = ""
    decimals: int | None = None
    min: float | None = None
    max: float | None = None
    thresholds: JSON | None = None
    mappings: list[JSON] = field(default_factory=list)
    color_mode: str = "palette-classic"
    fixed_color: str = IDLE

    def defaults(self, custom: JSON | None = None) -> JSON:
        color: JSON = {"mode": self.color_mode}
        if self.color_mode == "fixed":
            color["fixedColor"] = self.fixed_color
        d: JSON = {
            "color": color,
            "mappings": self.mappings,
            "thresholds": self.thresholds or thresholds((None, GOOD)),
        }
        if custom is not None:
            d["custom"] = custom
        if self.unit:
            d["unit"] = self.unit
        if self.decimals is not None:
            d["decimals"] = self.decimals
        if self.min is not None:
            d["min"] = self.min
        if self.max is not None:
            d["max"] = self.max
        return d


# --- panels ------------------------------------------------------------------------------


def _panel(
    kind: str,
    title: str,
    targets: Sequence[JSON],
    description: str,
    defaults: JSON,
    options: JSON,
    *,
    overrides: Sequence[JSON] = (),
    transformations: Sequence[JSON] = (),
) -> JSON:
    built = []
    for i, t in enumerate(targets):
        built.append({**t, "refId": chr(ord("A") + i)})
    p: JSON = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": _ds(),
        "targets": built,
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "options": options,
    }
    if transformations:
        p["transformations"] = list(transformations)
    return p


def _legend(calcs: Sequence[str] = (), table: bool = False) -> JSON:
    return {
        "calcs": list(calcs),
        "displayMode": "table" if table else "list",
        "placement": "bottom",
        "showLegend": True,
    }


def timeseries(
    title: str,
    targets: Sequence[JSON],
    *,
    description: str = "",
    look: Look | None = None,
    bars: bool = False,
    steps: bool = False,
    fill: int = 10,
    legend_calcs: Sequence[str] = ("lastNotNull", "max"),
    threshold_line: bool = False,
) -> JSON:
    look = look or Look()
    custom: JSON = {
        "drawStyle": "bars" if bars else "line",
        "lineInterpolation": "stepAfter" if steps else "linear",
        "lineWidth": 1,
        "fillOpacity": 80 if bars else fill,
        "gradientMode": "none",
        "showPoints": "never",
        "pointSize": 4,
        "spanNulls": True,
        "stacking": {"group": "A", "mode": "none"},
        "axisPlacement": "auto",
        "axisLabel": "",
        "barAlignment": 0,
        "scaleDistribution": {"type": "linear"},
        "thresholdsStyle": {"mode": "line" if threshold_line else "off"},
        "hideFrom": {"legend": False, "tooltip": False, "viz": False},
    }
    options = {
        "legend": _legend(legend_calcs, table=bool(legend_calcs)),
        "tooltip": {"mode": "multi", "sort": "desc"},
    }
    return _panel("timeseries", title, targets, description, look.defaults(custom), options)


def _reduce(strings: bool) -> JSON:
    return {"calcs": ["lastNotNull"], "fields": "/.*/" if strings else "", "values": False}


def stat(
    title: str,
    targets: Sequence[JSON],
    *,
    description: str = "",
    look: Look | None = None,
    strings: bool = False,
    graph: bool = False,
) -> JSON:
    """Big numbers (or state labels, with `strings`), one per series, coloured by look."""
    look = look or Look(color_mode="thresholds")
    options = {
        "reduceOptions": _reduce(strings),
        "colorMode": "background" if strings or look.mappings else "value",
        "graphMode": "area" if graph else "none",
        "justifyMode": "auto",
        "orientation": "auto",
        "textMode": "value_and_name",
        "wideLayout": True,
        "showPercentChange": False,
    }
    return _panel("stat", title, targets, description, look.defaults(), options)


def gauge(title: str, targets: Sequence[JSON], *, description: str = "", look: Look) -> JSON:
    options = {
        "reduceOptions": _reduce(False),
        "orientation": "auto",
        "showThresholdLabels": False,
        "showThresholdMarkers": True,
        "sizing": "auto",
        "minVizHeight": 75,
        "minVizWidth": 75,
    }
    return _panel("gauge", title, targets, description, look.defaults(), options)


def state_timeline(
    title: str,
    targets: Sequence[JSON],
    *,
    description: str = "",
    mappings: list[JSON],
    row_height: float = 0.8,
) -> JSON:
    """One row per series, coloured by state; for enum and boolean points."""
    look = Look(mappings=mappings, color_mode="thresholds", thresholds=thresholds((None, OFF)))
    custom: JSON = {
        "fillOpacity": 75,
        "lineWidth": 0,
        "hideFrom": {"legend": False, "tooltip": False, "viz": False},
    }
    options = {
        "mergeValues": True,
        "showValue": "auto",
        "alignValue": "left",
        "rowHeight": row_height,
        "legend": _legend(),
        "tooltip": {"mode": "single", "sort": "none"},
    }
    return _panel("state-timeline", title, targets, description, look.defaults(custom), options)


def table(
    title: str,
    targets: Sequence[JSON],
    *,
    description: str = "",
    look: Look | None = None,
    transformations: Sequence[JSON] = (),
    overrides: Sequence[JSON] = (),
) -> JSON:
    look = look or Look(color_mode="thresholds")
    custom: JSON = {
        "align": "auto",
        "cellOptions": {"type": "auto"},
        "inspect": False,
        "filterable": True,
    }
    options = {
        "showHeader": True,
        "cellHeight": "sm",
        "footer": {"show": False, "reducer": ["sum"], "countRows": False, "fields": ""},
    }
    return _panel(
        "table",
        title,
        targets,
        description,
        look.defaults(custom),
        options,
        overrides=overrides,
        transformations=transformations,
    )


_PROPERTY_IDS = {"cell_type": "custom.cellOptions", "display_name": "displayName"}


def override(field_name: str, *, regex: bool = False, **properties: Any) -> JSON:
    """Per-field settings by field name (or name regex): override("x", unit="percent")."""
    props = [{"id": _PROPERTY_IDS.get(k, k), "value": v} for k, v in properties.items()]
    matcher = {"id": "byRegexp" if regex else "byName", "options": field_name}
    return {"matcher": matcher, "properties": props}


# --- template variables and annotations -----------------------------------------------------


def query_variable(name: str, label: str, query: str) -> JSON:
    """A multi-value variable (with All) filled by an InfluxQL `SHOW TAG VALUES` query."""
    return {
        "type": "query",
        "name": name,
        "label": label,
        "datasource": _ds(),
        "query": query,
        "definition": query,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
        "hide": 0,
        "includeAll": True,
        "multi": True,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
        "sort": 1,
    }


def annotation(
    name: str, query: str, color: str, *, tags_column: str, time_end_column: str | None = None
) -> JSON:
    """An InfluxQL annotation query: the `text` column is the annotation's text; with
    `time_end_column`, a region from each row's time to that column's (epoch milliseconds)."""
    region = {"timeEndColumn": time_end_column} if time_end_column else {}
    return {
        **region,
        "name": name,
        "datasource": _ds(),
        "enable": True,
        "hide": False,
        "iconColor": color,
        "query": query,
        "textColumn": "text",
        "titleColumn": "",
        "tagsColumn": tags_column,
    }
