"""InfluxQL building blocks shared by the dashboards.

Grafana interpolates a multi-value variable used in a regex as `(a|b|c)` with each value
regex-escaped, so every tag filter is written `"tag" =~ /^$var$/`; `$timeFilter` and
`$__interval` are the InfluxDB datasource's own macros.
"""

from __future__ import annotations

from collections.abc import Sequence

from plantroom.influx.influxql import quote_ident, quote_string

TIME_FILTER = "$timeFilter"
INTERVAL = "$__interval"

SITE = '"site" =~ /^$site$/'
BUILDING = '"building" =~ /^$building$/'
EQUIPMENT = '"equipment" =~ /^$equipment$/'


# short names for the boards' queries: a double-quoted identifier, a single-quoted string
ident = quote_ident
string = quote_string


def tag_var(tag: str, var: str | None = None) -> str:
    """`"tag" =~ /^$var$/`: the tag matches the variable's selection."""
    return f"{ident(tag)} =~ /^${var or tag}$/"


def where(conds: Sequence[str]) -> str:
    return " AND ".join([*conds, TIME_FILTER])


def _group(tags: Sequence[str], by_time: bool) -> str:
    parts = [f"time({INTERVAL})"] if by_time else []
    parts += [ident(t) for t in tags]
    return f" GROUP BY {', '.join(parts)}" if parts else ""


def over_time(
    select: str,
    measurement: str,
    conds: Sequence[str],
    by: Sequence[str] = ("equipment",),
    fill: str | None = None,
) -> str:
    """`select` per `$__interval` bucket and per series of `by` tags, in the time range."""
    q = f"SELECT {select} FROM {ident(measurement)} WHERE {where(conds)}{_group(by, True)}"
    return f"{q} fill({fill})" if fill else q


def latest(
    select: str, measurement: str, conds: Sequence[str], by: Sequence[str] = ("equipment",)
) -> str:
    """`select` once per series of `by` tags over the whole time range."""
    return f"SELECT {select} FROM {ident(measurement)} WHERE {where(conds)}{_group(by, False)}"


def combine_latest(
    fields: Sequence[str],
    measurement: str,
    conds: Sequence[str],
    series: Sequence[str],
    by: Sequence[str] = (),
    combine: str = "sum",
    over_time_buckets: bool = False,
) -> str:
    """Each series' latest value, combined across series: e.g. open work orders by priority.

    The inner query takes `last()` of each field per series (every combination of `series`
    tags); the outer query combines them (`sum`, `mean`, ...) per `by` tags, optionally per
    `$__interval` bucket.
    """
    inner_sel = ", ".join(f"last({ident(f)}) AS {ident(f)}" for f in fields)
    inner = f"SELECT {inner_sel} FROM {ident(measurement)} WHERE {where(conds)}"
    inner += _group(series, over_time_buckets)
    outer_sel = ", ".join(f"{combine}({ident(f)}) AS {ident(f)}" for f in fields)
    return f"SELECT {outer_sel} FROM ({inner}) WHERE {TIME_FILTER}{_group(by, over_time_buckets)}"


def show_tag_values(measurement: str, key: str, conds: Sequence[str] = ()) -> str:
    """A variable query: the values of tag `key` in `measurement` (a name or a /regex/)."""
    source = measurement if measurement.startswith("/") else ident(measurement)
    q = f"SHOW TAG VALUES FROM {source} WITH KEY = {ident(key)}"
    return f"{q} WHERE {' AND '.join(conds)}" if conds else q


def measurements_regex(names: Sequence[str]) -> str:
    return "/^(" + "|".join(names) + ")$/"
