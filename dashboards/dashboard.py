"""A dashboard under construction, laid out in rows, and its JSON model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from dashboards.grafana import (
    DATASOURCE_NAME,
    DATASOURCE_UID,
    DATASOURCE_VAR,
    GRID_WIDTH,
    JSON,
    SCHEMA_VERSION,
    TAG,
)


def datasource_variable() -> JSON:
    return {
        "type": "datasource",
        "name": DATASOURCE_VAR,
        "label": "Data source",
        "query": "influxdb",
        "current": {"selected": False, "text": DATASOURCE_NAME, "value": DATASOURCE_UID},
        "hide": 0,
        "includeAll": False,
        "multi": False,
        "options": [],
        "refresh": 1,
        "regex": "",
        "skipUrlSync": False,
    }


@dataclass
class Dashboard:
    """A dashboard under construction: panels are laid out left to right, rows top down."""

    uid: str
    title: str
    description: str
    tags: Sequence[str] = ()
    variables: list[JSON] = field(default_factory=list)
    annotations: list[JSON] = field(default_factory=list)
    panels: list[JSON] = field(default_factory=list)
    refresh: str = "30s"
    time_from: str = "now-6h"
    _x: int = 0
    _y: int = 0
    _line_height: int = 0

    def _newline(self) -> None:
        self._y += self._line_height
        self._x = 0
        self._line_height = 0

    def row(self, title: str) -> None:
        if self._x:
            self._newline()
        self.panels.append(
            {
                "type": "row",
                "title": title,
                "collapsed": False,
                "panels": [],
                "gridPos": {"h": 1, "w": GRID_WIDTH, "x": 0, "y": self._y},
            }
        )
        self._y += 1

    def add(self, panel: JSON, w: int, h: int) -> None:
        if not 0 < w <= GRID_WIDTH:
            raise ValueError(f"panel {panel.get('title')!r}: width {w} is not 1..{GRID_WIDTH}")
        if self._x + w > GRID_WIDTH:
            self._newline()
        panel["gridPos"] = {"h": h, "w": w, "x": self._x, "y": self._y}
        self.panels.append(panel)
        self._x += w
        self._line_height = max(self._line_height, h)

    def to_json(self) -> JSON:
        panels = []
        for i, p in enumerate(self.panels, start=1):
            panels.append({"id": i, **p})
        return {
            "uid": self.uid,
            "title": self.title,
            "description": self.description,
            "tags": [TAG, *self.tags],
            "id": None,
            "version": 1,
            "schemaVersion": SCHEMA_VERSION,
            "editable": True,
            "graphTooltip": 1,
            "fiscalYearStartMonth": 0,
            "liveNow": False,
            "weekStart": "",
            "timezone": "browser",
            "refresh": self.refresh,
            "time": {"from": self.time_from, "to": "now"},
            "timepicker": {},
            "links": [
                {
                    "title": "Plantroom",
                    "type": "dashboards",
                    "tags": [TAG],
                    "asDropdown": True,
                    "includeVars": True,
                    "keepTime": True,
                    "targetBlank": False,
                    "icon": "external link",
                    "tooltip": "",
                    "url": "",
                }
            ],
            "templating": {"list": [datasource_variable(), *self.variables]},
            "annotations": {"list": list(self.annotations)},
            "panels": panels,
        }
