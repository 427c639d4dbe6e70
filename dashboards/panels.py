"""Dashboards as tables of panel specs, and the one builder that turns a table into panels.

A board is a list of `Row` and `Panel` entries laid out in order (left to right, a new line
when a panel does not fit, rows top down). A panel's queries name fields in braces, with
the types the panel needs: `last({run_state:string})`, `mean({flow:number})`,
`AS {dry_run}` (no type check). The builder resolves every brace against the fields of the
query's source (a kind's profile points, or one `plantroom_health` component), so a panel
can only read a field its measurement holds, with a type it can show.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from dashboards import grafana as g
from dashboards.boards.common import enum_mappings
from dashboards.dashboard import Dashboard
from dashboards.errors import DashboardError
from dashboards.grafana import JSON
from dashboards.influxql import TIME_FILTER, combine_latest, ident, latest, over_time, where
from dashboards.profiles import FieldSet

TIMESERIES = "timeseries"
STAT = "stat"
STATE = "state-timeline"
TABLE = "table"
GAUGE = "gauge"

EQUIPMENT_ALIAS = "$tag_equipment"
EQUIPMENT_COLUMN_ALIAS = "$tag_equipment $col"
"""The legend of a query with several columns: each series' equipment and column name."""
COUNTER_LEGEND = ("sum",)

# The field types a brace's spec allows: `{name:number}` is an integer or float field.
FIELD_TYPES: dict[str, tuple[str, ...]] = {
    "": (),
    "string": ("string",),
    "boolean": ("boolean",),
    "number": ("integer", "float"),
    "state": ("string", "boolean"),
}
_FIELD = re.compile(r"\{(\w+)(?::(\w*))?\}")

HIDE_TIME: JSON = {"id": "organize", "options": {"excludeByName": {"Time": True}}}
"""A table transformation that drops the Time column (a latest value's range start)."""

Select = str | Callable[[FieldSet], str]
"""A SELECT list with `{field:types}` braces, or a function of the fields that writes one
(for points numbered per zone or circuit)."""


def resolve(select: Select, fields: FieldSet) -> str:
    """The select list with every `{field:types}` replaced by the checked, quoted field."""
    text = select(fields) if callable(select) else select

    def one(match: re.Match[str]) -> str:
        name, spec = match.group(1), match.group(2) or ""
        try:
            types = FIELD_TYPES[spec]
        except KeyError:
            raise DashboardError(
                f"{select!r}: unknown field type {spec!r} for {name!r}; expected one of "
                f"{', '.join(t for t in FIELD_TYPES if t)}"
            ) from None
        return fields.f(name, *types)

    return _FIELD.sub(one, text)


@dataclass(frozen=True)
class Source:
    """What a board's queries read: a measurement's fields, the scope conditions every query
    filters on, and the tags a series is per."""

    fields: FieldSet
    scope: tuple[str, ...]
    by: tuple[str, ...] = ("equipment",)


@dataclass(frozen=True, kw_only=True)
class _Query(ABC):
    alias: str = EQUIPMENT_ALIAS
    table: bool = False
    where: tuple[str, ...] = ()
    by: tuple[str, ...] | None = None
    source: str = ""
    """The key of the board's source to read; "" is the board's main one."""

    @abstractmethod
    def text(self, src: Source) -> str:
        """The InfluxQL of this query against `src`."""

    def target(self, sources: Mapping[str, Source]) -> JSON:
        try:
            src = sources[self.source]
        except KeyError:
            raise DashboardError(f"no query source {self.source!r} on this board") from None
        return g.target(self.text(src), alias=self.alias, table=self.table)

    def _by(self, src: Source) -> tuple[str, ...]:
        return src.by if self.by is None else self.by


@dataclass(frozen=True)
class Series(_Query):
    """`select` per `$__interval` and per series, over the time range."""

    select: Select
    fill: str | None = None

    def text(self, src: Source) -> str:
        conds = (*src.scope, *self.where)
        sel = resolve(self.select, src.fields)
        return over_time(sel, src.fields.measurement, conds, by=self._by(src), fill=self.fill)


@dataclass(frozen=True)
class Latest(_Query):
    """`select` once per series over the whole time range."""

    select: Select

    def text(self, src: Source) -> str:
        conds = (*src.scope, *self.where)
        sel = resolve(self.select, src.fields)
        return latest(sel, src.fields.measurement, conds, by=self._by(src))


@dataclass(frozen=True)
class Nested(_Query):
    """`select` over the rows of a per-interval `inner` query, per the inner query's series:
    `SELECT select FROM (inner) WHERE where AND $timeFilter GROUP BY <inner's tags>`."""

    select: str
    inner: Series

    def text(self, src: Source) -> str:
        group = ", ".join(ident(t) for t in self.inner._by(src))
        conds = " AND ".join([*self.where, TIME_FILTER])
        return f"SELECT {self.select} FROM ({self.inner.text(src)}) WHERE {conds} GROUP BY {group}"


@dataclass(frozen=True)
class Combined(_Query):
    """Each series' latest value of number `fields`, combined across series (`combine`: sum,
    mean, ...) per the `per` tags: e.g. open work orders by priority. `by` names the series
    (the source's by default); `per_interval` combines per `$__interval`, not once."""

    fields: str | tuple[str, ...]
    combine: str = "sum"
    per: tuple[str, ...] = ()
    per_interval: bool = False

    def text(self, src: Source) -> str:
        names = (self.fields,) if isinstance(self.fields, str) else self.fields
        return combine_latest(
            [src.fields.check(name, *FIELD_TYPES["number"]) for name in names],
            src.fields.measurement,
            (*src.scope, *self.where),
            series=self._by(src),
            by=self.per,
            combine=self.combine,
            over_time_buckets=self.per_interval,
        )


@dataclass(frozen=True)
class Rows(_Query):
    """The newest `limit` rows themselves, newest first (for a table of events)."""

    select: Select
    limit: int = 100

    def text(self, src: Source) -> str:
        sel = resolve(self.select, src.fields)
        conds = where((*src.scope, *self.where))
        return (
            f"SELECT {sel} FROM {ident(src.fields.measurement)} WHERE {conds} "
            f"ORDER BY time DESC LIMIT {self.limit}"
        )


Query = Series | Latest | Nested | Combined | Rows


@dataclass(frozen=True)
class EnumStates:
    """Colour every label of an enum field as the profiles define it; unknown labels `default`.
    The field is one of the `source` the board names ("" is its main one)."""

    field: str
    default: str = g.WARN
    source: str = ""

    def mappings(self, fields: FieldSet) -> list[JSON]:
        return enum_mappings(fields.enum(self.field), self.default)


@dataclass(frozen=True)
class Row:
    title: str


@dataclass(frozen=True, kw_only=True)
class Panel:
    """One panel: what it shows (`viz`), its queries and look, and its size in grid units."""

    viz: str
    title: str
    queries: Query | Sequence[Query] | Callable[[FieldSet], Sequence[Query]]
    description: str = ""
    w: int
    h: int
    look: g.Look | None = None
    states: EnumStates | list[JSON] | None = None
    overrides: Sequence[JSON] = ()
    transformations: Sequence[JSON] = ()
    # timeseries
    bars: bool = False
    steps: bool = False
    fill: int = 10
    legend_calcs: Sequence[str] = ("lastNotNull", "max")
    threshold_line: bool = False
    # stat
    strings: bool = False
    graph: bool = False
    # state timeline
    row_height: float = 0.8


def counter_bars(
    title: str, queries: Query | Sequence[Query], description: str, *, w: int, h: int
) -> Panel:
    """Counters' increases per interval, drawn as bars and summed over the range in the
    legend."""
    return Panel(
        viz=TIMESERIES,
        title=title,
        queries=queries,
        description=description,
        look=g.Look(decimals=0, min=0),
        bars=True,
        legend_calcs=COUNTER_LEGEND,
        w=w,
        h=h,
    )


def trend(
    title: str,
    queries: Query | Sequence[Query],
    description: str,
    look: g.Look,
    *,
    w: int = 12,
    h: int = 8,
) -> Panel:
    """Values per interval as lines; the look's thresholds, when it has any, drawn as lines
    too."""
    return Panel(
        viz=TIMESERIES,
        title=title,
        queries=queries,
        description=description,
        look=look,
        threshold_line=look.thresholds is not None,
        w=w,
        h=h,
    )


Board = Sequence[Row | Panel]


def _fields(spec: Panel, sources: Mapping[str, Source], source: str = "") -> FieldSet:
    try:
        return sources[source].fields
    except KeyError:
        which = f"source {source!r}" if source else "main source"
        raise DashboardError(
            f"panel {spec.title!r} takes its states or queries from the board's {which}, "
            "and this board has none"
        ) from None


def _queries(spec: Panel, sources: Mapping[str, Source]) -> Sequence[Query]:
    if isinstance(spec.queries, Series | Latest | Nested | Combined | Rows):
        return [spec.queries]
    if callable(spec.queries):
        return spec.queries(_fields(spec, sources))
    return spec.queries


def build_panel(spec: Panel, sources: Mapping[str, Source]) -> JSON:
    """The panel JSON of one spec, its field names checked against the board's sources."""
    targets = [q.target(sources) for q in _queries(spec, sources)]
    states = spec.states
    if isinstance(states, EnumStates):
        states = states.mappings(_fields(spec, sources, states.source))
    look = spec.look
    if states is not None and spec.viz != STATE:
        look = replace(look or g.Look(), mappings=states)
    desc = spec.description
    panel: JSON
    if spec.viz == TIMESERIES:
        panel = g.timeseries(
            spec.title,
            targets,
            description=desc,
            look=look,
            bars=spec.bars,
            steps=spec.steps,
            fill=spec.fill,
            legend_calcs=spec.legend_calcs,
            threshold_line=spec.threshold_line,
        )
    elif spec.viz == STAT:
        panel = g.stat(
            spec.title, targets, description=desc, look=look, strings=spec.strings, graph=spec.graph
        )
    elif spec.viz == STATE:
        if states is None:
            raise DashboardError(f"panel {spec.title!r}: a state timeline needs its states")
        panel = g.state_timeline(
            spec.title, targets, description=desc, mappings=states, row_height=spec.row_height
        )
    elif spec.viz == TABLE:
        panel = g.table(
            spec.title, targets, description=desc, look=look, transformations=spec.transformations
        )
    elif spec.viz == GAUGE:
        if look is None:
            raise DashboardError(f"panel {spec.title!r}: a gauge needs its look")
        panel = g.gauge(spec.title, targets, description=desc, look=look)
    else:
        raise DashboardError(f"panel {spec.title!r}: unknown panel type {spec.viz!r}")
    if spec.overrides:
        panel["fieldConfig"]["overrides"] = list(spec.overrides)
    return panel


def add_panels(d: Dashboard, board: Board, sources: Mapping[str, Source]) -> Dashboard:
    """Lay out every row and panel of `board` on `d`, in order."""
    for item in board:
        if isinstance(item, Row):
            d.row(item.title)
        else:
            d.add(build_panel(item, sources), item.w, item.h)
    return d
