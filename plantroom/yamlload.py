"""YAML loading that remembers where every value came from, so errors can name file and line.

Bounded: a file over `MAX_BYTES` is refused before parsing, and building the data stops
after `MAX_VALUES` values, counting each use of an alias anew, so an alias bomb (a few
lines whose aliases expand to billions of values) fails at once with an error naming the
file instead of exhausting memory.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from plantroom.errors import ConfigError

Loc = tuple[str | int, ...]

MAX_BYTES = 16 * 1024 * 1024
MAX_VALUES = 200_000


class _TooBig(Exception):
    pass


def _build(
    node: yaml.Node, path: Loc, lines: dict[Loc, int], loader: yaml.SafeLoader, budget: list[int]
) -> Any:
    budget[0] -= 1
    if budget[0] < 0:
        raise _TooBig
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key in out:
                raise ConfigError(f"line {key_node.start_mark.line + 1}: duplicate key {key!r}")
            out[key] = _build(value_node, (*path, key), lines, loader, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [
            _build(item, (*path, i), lines, loader, budget) for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def load_yaml(path: Path) -> tuple[Any, dict[Loc, int]]:
    """Parse a YAML file into plain data plus a map from data path to line number."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    if len(raw) > MAX_BYTES:
        raise ConfigError(f"{path}: {len(raw)} bytes is more than the {MAX_BYTES} allowed")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{path}:{line}: not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start}"
        ) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark is not None else str(path)
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{where}: invalid YAML: {problem}") from exc
    if node is None:
        raise ConfigError(f"{path}: file is empty")
    lines: dict[Loc, int] = {}
    loader = yaml.SafeLoader("")
    try:
        data = _build(node, (), lines, loader, [MAX_VALUES])
    except _TooBig:
        raise ConfigError(
            f"{path}: more than {MAX_VALUES} values once aliases are expanded "
            "(an alias used many times over?)"
        ) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {exc}") from exc
    except ConfigError as exc:
        raise ConfigError(f"{path}:{exc}") from exc
    return data, lines


def line_of(lines: dict[Loc, int], loc: Loc) -> int | None:
    """The line of the deepest part of `loc` that exists in the file."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in lines:
            return lines[loc[:n]]
    return None


def describe_error(
    path: Path, lines: dict[Loc, int], exc: ValidationError, prefix: Loc = ()
) -> str:
    """Render a pydantic error list as `file:line: field.path: message` lines."""
    out = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        full = (*prefix, *loc)
        line = line_of(lines, full)
        field = ".".join(str(p) for p in full) or "(top level)"
        where = f"{path}:{line}" if line is not None else str(path)
        out.append(f"{where}: {field}: {err['msg']}")
    return "\n".join(out)


M = TypeVar("M", bound=BaseModel)


def validate_file(model: type[M], path: Path) -> M:
    data, lines = load_yaml(path)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_error(path, lines, exc)) from exc
