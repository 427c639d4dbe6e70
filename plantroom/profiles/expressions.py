"""The small expression language of derived points: parsed once, compiled to closures.

    motor_temperature > 90
    voltage * current * 1.732 * 0.9 / 1000
    running and not (flow > 0.5)
    max(abs(flow_a - flow_b), 0)

Numbers, point names, `+ - * /`, parentheses, comparisons `< <= > >= == !=` (chained as in
Python: `0 < level < 90`), `and`, `or`, `not`, and the functions `abs`, `min` and `max`.
Nothing else parses: no attribute, subscript, power, string or other call, so an expression
can only compute. Python's `ast` parses the text; a whitelist walk turns each node into a
closure over the values of one poll. `and`, `or` and `not` give true or false. A division by
zero, or a result that is not a finite number, makes the point unavailable.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

Number = bool | int | float
Values = Mapping[str, Number]
Evaluate = Callable[[Values], Number]
ResultType = Literal["bool", "number"]

MAX_EXPRESSION = 256
"""Longest expression text."""
MAX_NODES = 128
"""Most operators, names and numbers in one expression."""
FUNCTIONS: Mapping[str, tuple[int, int]] = {"abs": (1, 1), "min": (2, 16), "max": (2, 16)}
"""Function → (fewest, most) arguments."""

_BINARY: Mapping[type[ast.operator], Callable[[Number, Number], Number]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
}
_COMPARE: Mapping[type[ast.cmpop], Callable[[Number, Number], bool]] = {
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
}
_FUNCTION_IMPL: Mapping[str, Callable[..., Number]] = {"abs": abs, "min": min, "max": max}
_INT64 = 2**63


class ExpressionError(ValueError):
    """What is wrong with an expression, and at which column (1-based) of its text."""

    def __init__(self, column: int, message: str) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column
        self.message = message


@dataclass(frozen=True, slots=True)
class Expression:
    """A parsed, checked expression: its text, the points it reads, its result type."""

    text: str
    names: tuple[str, ...]
    type: ResultType
    evaluate: Evaluate

    def __call__(self, values: Values) -> Number | None:
        """The value for one poll's `values` (every name present, none unavailable); None
        when it has no finite value (a division by zero, an overflow)."""
        try:
            result = self.evaluate(values)
        except (ZeroDivisionError, OverflowError):
            return None
        return finite(result)


def finite(result: Number) -> Number | None:
    """`result` as a telemetry value: None unless it is a finite number; a whole number too
    large for a 64-bit integer becomes a float."""
    if isinstance(result, float):
        return result if math.isfinite(result) else None
    if isinstance(result, int) and not isinstance(result, bool) and abs(result) >= _INT64:
        try:
            return float(result)
        except OverflowError:
            return None
    return result


def _column(node: ast.AST) -> int:
    return int(getattr(node, "col_offset", 0)) + 1


class _Compiler:
    """One walk over the tree: checks each node, infers its type, builds its closure."""

    def __init__(self, point_types: Mapping[str, str]) -> None:
        self.point_types = point_types
        self.names: list[str] = []
        self.nodes = 0

    def compile(self, node: ast.AST) -> tuple[ResultType, Evaluate]:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise ExpressionError(_column(node), f"more than {MAX_NODES} terms")
        method = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            raise ExpressionError(_column(node), f"{_describe(node)} is not allowed{_HINT}")
        result: tuple[ResultType, Evaluate] = method(node)
        return result

    def _Constant(self, node: ast.Constant) -> tuple[ResultType, Evaluate]:
        value = node.value
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ExpressionError(_column(node), f"{value!r} is not a number{_HINT}")
        return "number", lambda values: value

    def _Name(self, node: ast.Name) -> tuple[ResultType, Evaluate]:
        name = node.id
        kind = self.point_types.get(name)
        if kind is None:
            if name in FUNCTIONS:
                raise ExpressionError(_column(node), f"{name} is a function: {name}(...)")
            known = ", ".join(sorted(self.point_types)) or "none"
            raise ExpressionError(
                _column(node), f"no point {name!r} the expression may read (points: {known})"
            )
        if kind not in ("bool", "number"):
            raise ExpressionError(
                _column(node),
                f"point {name!r} is {'an' if kind == 'enum' else 'a'} {kind}, not a number or "
                f"boolean; "
                f"test its codes with `in:` in a derived point of its own",
            )
        if name not in self.names:
            self.names.append(name)
        return ("bool" if kind == "bool" else "number"), operator.itemgetter(name)

    def _UnaryOp(self, node: ast.UnaryOp) -> tuple[ResultType, Evaluate]:
        _, inner = self.compile(node.operand)
        if isinstance(node.op, ast.Not):
            return "bool", lambda values: not inner(values)
        if isinstance(node.op, ast.USub):
            return "number", lambda values: -inner(values)
        if isinstance(node.op, ast.UAdd):
            return "number", lambda values: +inner(values)
        raise ExpressionError(_column(node), f"{_describe(node)} is not allowed{_HINT}")

    def _BinOp(self, node: ast.BinOp) -> tuple[ResultType, Evaluate]:
        op = _BINARY.get(type(node.op))
        if op is None:
            raise ExpressionError(_column(node), f"{_describe(node)} is not allowed{_HINT}")
        _, left = self.compile(node.left)
        _, right = self.compile(node.right)
        return "number", lambda values: op(left(values), right(values))

    def _BoolOp(self, node: ast.BoolOp) -> tuple[ResultType, Evaluate]:
        parts = tuple(self.compile(value)[1] for value in node.values)
        if isinstance(node.op, ast.And):
            return "bool", lambda values: all(part(values) for part in parts)
        return "bool", lambda values: any(part(values) for part in parts)

    def _Compare(self, node: ast.Compare) -> tuple[ResultType, Evaluate]:
        terms = [self.compile(node.left)[1]]
        ops = []
        for op, right in zip(node.ops, node.comparators, strict=True):
            compare = _COMPARE.get(type(op))
            if compare is None:
                raise ExpressionError(_column(right), f"{_describe(op)} is not allowed{_HINT}")
            ops.append(compare)
            terms.append(self.compile(right)[1])
        pairs = tuple(zip(ops, terms[:-1], terms[1:], strict=True))

        def chain(values: Values) -> bool:
            return all(compare(a(values), b(values)) for compare, a, b in pairs)

        return "bool", chain

    def _Call(self, node: ast.Call) -> tuple[ResultType, Evaluate]:
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
            raise ExpressionError(
                _column(node), f"only {', '.join(FUNCTIONS)} may be called{_HINT}"
            )
        if node.keywords or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError(_column(node), f"{func.id}() takes plain arguments")
        low, high = FUNCTIONS[func.id]
        if not low <= len(node.args) <= high:
            want = f"{low}" if low == high else f"{low} to {high}"
            raise ExpressionError(
                _column(node), f"{func.id}() takes {want} arguments, not {len(node.args)}"
            )
        args = tuple(self.compile(arg)[1] for arg in node.args)
        impl = _FUNCTION_IMPL[func.id]
        if len(args) == 1:
            (only,) = args
            return "number", lambda values: impl(only(values))
        return "number", lambda values: impl(*(arg(values) for arg in args))


_HINT = (
    " (an expression has numbers, point names, + - * / ( ), < <= > >= == !=, "
    "and/or/not, abs(), min(), max())"
)


def _describe(node: ast.AST) -> str:
    names = {
        ast.Pow: "`**`",
        ast.Mod: "`%`",
        ast.FloorDiv: "`//`",
        ast.Attribute: "an attribute (`.`)",
        ast.Subscript: "a subscript (`[]`)",
        ast.Lambda: "a lambda",
        ast.IfExp: "`if ... else`",
        ast.In: "`in`",
        ast.NotIn: "`not in`",
        ast.Is: "`is`",
        ast.IsNot: "`is not`",
        ast.Invert: "`~`",
    }
    for kind, text in names.items():
        if isinstance(node, kind) or (isinstance(node, ast.BinOp) and isinstance(node.op, kind)):
            return text
    if isinstance(node, ast.BinOp | ast.UnaryOp):
        return f"the operator {type(node.op).__name__}"
    return f"{type(node).__name__}"


def parse_expression(text: str, point_types: Mapping[str, str]) -> Expression:
    """Parse and check `text`; `point_types` names the points it may read (name → bool,
    number, enum, text). ExpressionError names the column of the first problem."""
    if len(text) > MAX_EXPRESSION:
        raise ExpressionError(
            1, f"{len(text)} characters; an expression has at most {MAX_EXPRESSION}"
        )
    if "\n" in text or "\r" in text:
        raise ExpressionError(text.find("\n") + 1, "an expression is one line")
    body = text.lstrip()
    lead = len(text) - len(body)  # columns of the text as written
    if not body.strip():
        raise ExpressionError(1, "the expression is empty")
    try:
        tree = ast.parse(body, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(lead + (exc.offset or 1), f"syntax error: {exc.msg}") from None
    if lead:
        for node in ast.walk(tree):
            if isinstance(node, ast.expr):
                node.col_offset += lead
    compiler = _Compiler(point_types)
    result_type, evaluate = compiler.compile(tree.body)
    return Expression(text, tuple(compiler.names), result_type, evaluate)


def result_type(text: str) -> ResultType:
    """What `text` gives, from its outermost operation alone: a comparison, `and`, `or` or
    `not` is a boolean, anything else a number (a text that does not parse: a number)."""
    try:
        body = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        return "number"
    if isinstance(body, ast.Compare | ast.BoolOp) or (
        isinstance(body, ast.UnaryOp) and isinstance(body.op, ast.Not)
    ):
        return "bool"
    return "number"
