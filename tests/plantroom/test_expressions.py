"""The derived points' expression language against a reference evaluator.

Hypothesis builds expression trees; each is written out as text, parsed and compiled by
`plantroom.profiles.expressions`, and evaluated there and by `reference` below: a plain
recursive walk over the generated tree, with the semantics documented in docs/profiles.md
(`and`/`or`/`not` give booleans, a division by zero or a non-finite result gives no value).
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from plantroom.profiles.expressions import (
    MAX_EXPRESSION,
    ExpressionError,
    parse_expression,
    result_type,
)

POINTS = {"a": "number", "b": "number", "c": "number", "r": "bool", "code": "enum"}
NUMBERS = ("a", "b", "c")


# -- the tree hypothesis generates, its text and the reference evaluator -------------------


@dataclass(frozen=True)
class Node:
    op: str  # "num", "name", "neg", "not", "+", "-", "*", "/", "cmp", "and", "or", a function
    args: tuple[Node, ...] = ()
    value: float | int | str = 0
    ops: tuple[str, ...] = ()  # the comparison operators of a chain


def text(node: Node) -> str:
    """The expression, every operation in parentheses so the tree is the one parsed."""
    if node.op == "num":
        return repr(node.value)
    if node.op == "name":
        return str(node.value)
    if node.op == "neg":
        return f"(-{text(node.args[0])})"
    if node.op == "not":
        return f"(not {text(node.args[0])})"
    if node.op in ("+", "-", "*", "/", "and", "or"):
        return "(" + f" {node.op} ".join(text(a) for a in node.args) + ")"
    if node.op == "cmp":
        out = text(node.args[0])
        for op, arg in zip(node.ops, node.args[1:], strict=True):
            out += f" {op} {text(arg)}"
        return f"({out})"
    return f"{node.op}(" + ", ".join(text(a) for a in node.args) + ")"


COMPARE: Mapping[str, Callable[[object, object], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
    "==": operator.eq,
    "!=": operator.ne,
}
ARITH: Mapping[str, Callable[[object, object], object]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}


def walk(node: Node, values: Mapping[str, object]) -> object:
    if node.op == "num":
        return node.value
    if node.op == "name":
        return values[str(node.value)]
    if node.op == "neg":
        return -walk(node.args[0], values)  # type: ignore[operator]
    if node.op == "not":
        return not walk(node.args[0], values)
    if node.op == "and":
        for arg in node.args:  # noqa: SIM110  # the short circuit, spelt out
            if not walk(arg, values):
                return False
        return True
    if node.op == "or":
        for arg in node.args:  # noqa: SIM110  # the short circuit, spelt out
            if walk(arg, values):
                return True
        return False
    if node.op in ARITH:
        result = walk(node.args[0], values)
        for arg in node.args[1:]:
            result = ARITH[node.op](result, walk(arg, values))
        return result
    if node.op == "cmp":
        left = walk(node.args[0], values)
        for op, arg in zip(node.ops, node.args[1:], strict=True):
            right = walk(arg, values)
            if not COMPARE[op](left, right):
                return False
            left = right
        return True
    args = [walk(a, values) for a in node.args]
    return {"abs": abs, "min": min, "max": max}[node.op](*args)


def reference(node: Node, values: Mapping[str, object]) -> object:
    try:
        result = walk(node, values)
    except (ZeroDivisionError, OverflowError):
        return None
    if isinstance(result, float) and not math.isfinite(result):
        return None
    if type(result) is int and abs(result) >= 2**63:
        try:
            return float(result)
        except OverflowError:
            return None
    return result


numbers = st.one_of(
    st.integers(-1000, 1000),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(lambda f: abs(f)),
)
leaves = st.one_of(
    numbers.map(lambda v: Node("num", value=v)),
    st.sampled_from((*NUMBERS, "r")).map(lambda n: Node("name", value=n)),
)


def _grow(children: st.SearchStrategy[Node]) -> st.SearchStrategy[Node]:
    two_or_three = st.lists(children, min_size=2, max_size=3).map(tuple)
    return st.one_of(
        st.builds(lambda a: Node("neg", (a,)), children),
        st.builds(lambda a: Node("not", (a,)), children),
        st.builds(lambda op, args: Node(op, args), st.sampled_from("+-*/"), two_or_three),
        st.builds(lambda op, args: Node(op, args), st.sampled_from(["and", "or"]), two_or_three),
        st.builds(
            lambda args, ops: Node("cmp", args, ops=tuple(ops[: len(args) - 1])),
            two_or_three,
            st.lists(st.sampled_from(list(COMPARE)), min_size=2, max_size=2),
        ),
        st.builds(lambda a: Node("abs", (a,)), children),
        st.builds(lambda op, args: Node(op, args), st.sampled_from(["min", "max"]), two_or_three),
    )


trees = st.recursive(leaves, _grow, max_leaves=12)
values = st.fixed_dictionaries(
    {
        "a": st.integers(-(2**31), 2**31),
        "b": st.one_of(st.integers(-5, 5), st.floats(-1e3, 1e3, allow_nan=False)),
        "c": st.floats(-1e300, 1e300, allow_nan=False, allow_infinity=False),
        "r": st.booleans(),
    }
)


def same(got: object, want: object) -> bool:
    if isinstance(got, float) and isinstance(want, float):
        return got == want or (math.isnan(got) and math.isnan(want))
    return got == want and type(got) is type(want)


@settings(max_examples=400, deadline=None)
@given(trees, values)
def test_the_compiled_expression_gives_what_the_reference_gives(
    tree: Node, sample: dict[str, object]
) -> None:
    source = text(tree)
    if len(source) > MAX_EXPRESSION:
        return
    expression = parse_expression(source, POINTS)
    got = expression(sample)  # type: ignore[arg-type]
    want = reference(tree, sample)
    assert same(got, want), (source, sample, got, want)
    if got is not None and expression.type == "bool":
        assert isinstance(got, bool)
    assert set(expression.names) <= set((*NUMBERS, "r"))


arith = st.recursive(
    st.one_of(
        st.integers(0, 100).map(str),
        st.sampled_from(NUMBERS),
    ),
    lambda inner: st.builds(
        lambda a, op, b, paren: f"({a} {op} {b})" if paren else f"{a} {op} {b}",
        inner,
        st.sampled_from("+-*"),
        inner,
        st.booleans(),
    ),
    max_leaves=8,
)


@settings(max_examples=200, deadline=None)
@given(arith, st.integers(-100, 100), st.integers(-100, 100), st.integers(-100, 100))
def test_precedence_without_parentheses_is_pythons(source: str, a: int, b: int, c: int) -> None:
    """Integer arithmetic with and without parentheses: Python's own reading of the same
    text is the reference here (these operators mean the same in both)."""
    expected = eval(source, {"__builtins__": {}}, {"a": a, "b": b, "c": c})  # the reference
    assert parse_expression(source, POINTS)({"a": a, "b": b, "c": c}) == expected


@pytest.mark.parametrize(
    ("source", "column", "message"),
    [
        ("a ** 2", 1, "`**` is not allowed"),
        ("a +* 1", 4, "syntax error"),
        ("  zz > 1", 3, "no point 'zz'"),
        ("code == 3", 1, "point 'code' is an enum"),
        ("a.real", 1, "an attribute"),
        ("min(a)", 1, "min() takes 2 to 16 arguments, not 1"),
        ("open(a)", 1, "only abs, min, max may be called"),
        ("'text'", 1, "'text' is not a number"),
        ("True", 1, "True is not a number"),
        ("a if r else b", 1, "`if ... else` is not allowed"),
        ("a % 2", 1, "`%` is not allowed"),
        ("abs", 1, "abs is a function"),
        ("", 1, "the expression is empty"),
        ("a in b", 6, "`in` is not allowed"),
        ("[a]", 1, "List is not allowed"),
        ("a\n+1", 2, "one line"),
        ("(a), (b)", 1, "Tuple is not allowed"),
        ("a + " * 70 + "a", 1, "at most 256"),
        ("abs(a=1)", 1, "plain arguments"),
        ("__import__('os')", 1, "only abs, min, max may be called"),
    ],
)
def test_what_is_not_an_expression_is_refused_at_its_column(
    source: str, column: int, message: str
) -> None:
    with pytest.raises(ExpressionError) as info:
        parse_expression(source, POINTS)
    assert info.value.column == column, str(info.value)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("source", "kind"),
    [
        ("a > 1", "bool"),
        ("r and a > 1", "bool"),
        ("not r", "bool"),
        ("a * b / 1000", "number"),
        ("max(a, b)", "number"),
        ("-a", "number"),
        ("a +* 1", "number"),
    ],
)
def test_the_result_type_is_read_from_the_outermost_operation(source: str, kind: str) -> None:
    assert result_type(source) == kind
