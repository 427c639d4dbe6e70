"""Derived points: checked when their profile loads, compiled once into functions of a poll.

A derived point is computed from other points of the same poll of the same device:

    - {name: dry_run, role: alarm, derive: {from: alarm_code, in: [57]}}
    - {name: running, role: state, derive: {from: status_word, bit: 3}}
    - {name: mode, role: state, derive: {from: status_word, bits: [4, 6]}}
    - {name: power, unit: kW, derive: {expr: "voltage * current * 1.732 * 0.9 / 1000"}}

A derived point may read another derived point listed before it (they are computed in the
order written); a cycle, a later point, an unknown point, a bit outside its source, a code
the source cannot give or an expression that does not parse is refused with its line.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from plantroom.profiles.expressions import ExpressionError, finite, parse_expression
from plantroom.profiles.schema import (
    TYPE_REGISTERS,
    DerivedPoint,
    ModbusPoint,
    MqttPoint,
    Profile,
)
from plantroom.yamlload import Loc

Issue = tuple[Loc, str]
Value = bool | int | float | str | None
Source = ModbusPoint | MqttPoint | DerivedPoint

_INTEGER_TYPES = frozenset({"int16", "uint16", "int32", "uint32", "int64", "uint64", "enum"})


@dataclass(frozen=True, slots=True)
class Derivation:
    """How one derived point is computed: its sources, and the function of their values
    (all present and available) that gives its value, None for "no value"."""

    name: str
    sources: tuple[str, ...]
    compute: Callable[[Mapping[str, Value]], Value]


def _bit_width(point: Source) -> int | None:
    """How many bits an integer source has (64 for a JSON integer or a derived bit field);
    None when the source is not an unscaled integer."""
    if isinstance(point, DerivedPoint):
        return 64 if point.derive.form == "bits" else None
    if point.scale != 1 or point.offset != 0:
        return None
    if isinstance(point, MqttPoint):
        return 64 if point.type == "int" else None
    if point.type in _INTEGER_TYPES:
        return 16 * TYPE_REGISTERS[point.type]
    return None


def _names_in(expr: str) -> list[str]:
    """The point names an expression mentions (none when it does not parse)."""
    try:
        tree = ast.parse(expr.strip(), mode="eval")
    except SyntaxError:
        return []
    calls = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    return [n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and id(n) not in calls]


def _sources(point: DerivedPoint) -> list[str]:
    derive = point.derive
    if derive.expr is not None:
        return _names_in(derive.expr)
    return [derive.from_] if derive.from_ is not None else []


def _cycle(start: str, graph: Mapping[str, list[str]]) -> list[str] | None:
    """A path start → ... → start through the derived points, if there is one."""
    stack: list[tuple[str, list[str]]] = [(start, [start])]
    seen: set[str] = set()
    while stack:
        name, path = stack.pop()
        for nxt in graph.get(name, []):
            if nxt == start:
                return [*path, start]
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None


def _order_issue(point: DerivedPoint, later: str, graph: Mapping[str, list[str]]) -> str:
    cycle = _cycle(point.name, graph)
    if cycle is not None:
        return f"derived points read each other in a cycle: {' → '.join(cycle)}"
    return (
        f"reads derived point {later!r}, which is listed after it: derived points are "
        f"computed in the order written, so list {later!r} first"
    )


def _form_issues(here: Loc, point: DerivedPoint) -> Iterator[Issue]:
    derive = point.derive
    given = derive.given
    if len(given) != 1:
        what = ", ".join(given) if given else "none"
        yield (
            (*here, "derive"),
            f"give exactly one of `in`, `bit`, `bits` or `expr` (given: {what})",
        )
        return
    if derive.expr is None and derive.from_ is None:
        yield (*here, "derive"), f"`{given[0]}` needs `from:` (the source point)"
    if derive.expr is not None and derive.from_ is not None:
        yield (*here, "derive", "from"), "`expr` names its points itself: drop `from`"
    if derive.bits is not None and derive.bits[0] > derive.bits[1]:
        yield (*here, "derive", "bits"), f"bits {list(derive.bits)}: write [lo, hi], lo <= hi"
    if point.value_type != "number":
        for field in ("scale", "offset"):
            if field in point.model_fields_set:
                yield (
                    (*here, field),
                    f"`{field}` applies only to a derived number (an arithmetic `expr`)",
                )


def _source_issues(here: Loc, point: DerivedPoint, source: Source) -> Iterator[Issue]:
    derive = point.derive
    width = _bit_width(source)
    where = (*here, "derive", "from")
    if derive.bit is not None or derive.bits is not None:
        if width is None or (isinstance(source, ModbusPoint) and source.type == "enum"):
            yield where, f"{source.name!r} is not an unscaled integer: it has no bits to take"
            return
        top = derive.bit if derive.bit is not None else max(derive.bits or (0, 0))
        if top >= width:
            field = "bit" if derive.bit is not None else "bits"
            yield (
                (*here, "derive", field),
                f"bit {top} is outside {source.name!r}, which has bits 0..{width - 1}",
            )
    if derive.in_ is not None:
        enum = source.enum if isinstance(source, ModbusPoint) and source.type == "enum" else None
        labels = set(enum.values()) if enum else set()
        for code in derive.in_:
            if isinstance(code, str) and not (
                code in labels or (enum is None and source.value_type == "text")
            ):
                choices = ", ".join(sorted(labels)) if labels else "none: use its numeric codes"
                yield (
                    (*here, "derive", "in"),
                    f"{code!r} is not a label of {source.name!r} (labels: {choices})",
                )
            if isinstance(code, int) and enum is None and width is None:
                yield (
                    (*here, "derive", "in"),
                    f"{source.name!r} is a {source.value_type}, not an unscaled integer or "
                    f"enum: codes do not apply",
                )
                return


def derived_issues(profile: Profile) -> Iterator[Issue]:
    """Everything wrong with the profile's derived points, at ("derived", k, field)."""
    read: dict[str, Source] = {p.name: p for p in profile.points}
    index = {d.name: k for k, d in enumerate(profile.derived)}
    graph = {d.name: [s for s in _sources(d) if s in index] for d in profile.derived}
    for k, point in enumerate(profile.derived):
        here: Loc = ("derived", k)
        issues = list(_form_issues(here, point))
        yield from issues
        if issues:
            continue
        later = [s for s in _sources(point) if index.get(s, -1) >= k]
        if later:
            field = "expr" if point.derive.expr is not None else "from"
            yield (*here, "derive", field), _order_issue(point, later[0], graph)
            continue
        known: dict[str, Source] = {**read, **{d.name: d for d in profile.derived[:k]}}
        if point.derive.expr is not None:
            types = {name: p.value_type for name, p in known.items()}
            try:
                expression = parse_expression(point.derive.expr, types)
            except ExpressionError as exc:
                yield (*here, "derive", "expr"), f"expression {point.derive.expr!r}: {exc}"
                continue
            if expression.type != point.value_type:
                yield (
                    (*here, "derive", "expr"),
                    f"the expression is one {expression.type} point alone: write a "
                    f"comparison (`{point.derive.expr.strip()} == 1`)",
                )
            continue
        source = known.get(point.derive.from_ or "")
        if source is None:
            yield (
                (*here, "derive", "from"),
                f"no point {point.derive.from_!r} in this profile to derive from",
            )
            continue
        yield from _source_issues(here, point, source)


# -- compiling --------------------------------------------------------------------------------


def _codes(point: DerivedPoint, source: Source) -> frozenset[object]:
    """What the source's decoded value is when it carries one of the listed codes."""
    codes = point.derive.in_ or []
    if isinstance(source, ModbusPoint) and source.type == "enum":
        names = source.enum or {}
        return frozenset(c if isinstance(c, str) else names.get(c, f"code_{c}") for c in codes)
    return frozenset(codes)


def _compute(point: DerivedPoint, known: Mapping[str, Source]) -> Derivation:
    derive = point.derive
    name = point.name
    if derive.expr is not None:
        types = {n: p.value_type for n, p in known.items()}
        expression = parse_expression(derive.expr, types)
        scale, offset = point.scale, point.offset
        if expression.type == "number" and (scale != 1 or offset != 0):

            def scaled(values: Mapping[str, Value]) -> Value:
                result = expression(values)  # type: ignore[arg-type]
                return None if result is None else finite(result * scale + offset)

            return Derivation(name, expression.names, scaled)
        return Derivation(name, expression.names, expression)  # type: ignore[arg-type]
    source = derive.from_ or ""
    if derive.in_ is not None:
        codes = _codes(point, known[source])

        def member(values: Mapping[str, Value]) -> Value:
            return values[source] in codes

        return Derivation(name, (source,), member)
    lo, hi = derive.bits if derive.bits is not None else (derive.bit or 0, derive.bit or 0)
    mask = (1 << (hi - lo + 1)) - 1
    as_bool = derive.bit is not None

    def field(values: Mapping[str, Value]) -> Value:
        word = values[source]
        if type(word) is not int:
            return None
        bits = (word >> lo) & mask
        return bits == 1 if as_bool else bits

    return Derivation(name, (source,), field)


def compile_derived(profile: Profile) -> tuple[Derivation, ...]:
    """The profile's derived points as functions, in the order they are computed. The
    profile must have passed `derived_issues`."""
    known: dict[str, Source] = {p.name: p for p in profile.points}
    out = []
    for point in profile.derived:
        out.append(_compute(point, known))
        known[point.name] = point
    return tuple(out)
