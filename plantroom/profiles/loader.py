"""Loading device profiles: one YAML file validated into a `Profile`, errors that name the
file, the line, the point and the field, and the profiles shipped with Plantroom.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from plantroom.errors import ConfigError
from plantroom.profiles.checks import Issue, profile_issues
from plantroom.profiles.schema import PROFILE_MODELS, Profile, is_derived_entry
from plantroom.profiles.units import in_canonical_units
from plantroom.yamlload import Loc, line_of, load_yaml

SHIPPED_DIR = Path(__file__).resolve().parent / "shipped"


# -- rendering errors: file:line: point 'x', field y: message -----------------------------


def _where(path: Path, lines: Mapping[Loc, int], data: Any, loc: Loc) -> str:
    line = line_of(dict(lines), loc)
    at = f"{path}:{line}" if line is not None else str(path)
    if len(loc) >= 2 and loc[0] == "points" and isinstance(loc[1], int):
        name = None
        points = data.get("points") if isinstance(data, dict) else None
        if isinstance(points, list) and loc[1] < len(points) and isinstance(points[loc[1]], dict):
            name = points[loc[1]].get("name")
        who = f"point {name!r} (points[{loc[1]}])" if name else f"points[{loc[1]}]"
        rest = ".".join(str(p) for p in loc[2:])
        return f"{at}: {who}" + (f", field {rest}" if rest else "")
    field = ".".join(str(p) for p in loc) or "(top level)"
    return f"{at}: field {field}"


def _render(path: Path, lines: Mapping[Loc, int], data: Any, issues: Iterable[Issue]) -> str:
    return "\n".join(f"{_where(path, lines, data, loc)}: {msg}" for loc, msg in issues)


def _pydantic_issues(exc: ValidationError) -> list[Issue]:
    out: list[Issue] = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        msg = err["msg"]
        if err["type"] == "string_type" and isinstance(err.get("input"), bool):
            msg += " (YAML reads unquoted yes/no/on/off as true/false: quote the value)"
        out.append((loc, msg))
    return out


def _file_places(data: Any) -> Callable[[Loc], Loc]:
    """Model location → file location: the model keeps the `points:` entries with `derive:`
    apart (`derived`), so its indexes differ from the file's once there is one."""
    entries = data.get("points") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        return lambda loc: loc
    read = [i for i, entry in enumerate(entries) if not is_derived_entry(entry)]
    derived = [i for i, entry in enumerate(entries) if is_derived_entry(entry)]

    def in_file(loc: Loc) -> Loc:
        if len(loc) >= 2 and isinstance(loc[1], int):
            places = {"points": read, "derived": derived}.get(str(loc[0]))
            if places is not None and 0 <= loc[1] < len(places):
                return ("points", places[loc[1]], *loc[2:])
        return loc

    return in_file


def load_profile(path: Path) -> Profile:
    """Load and validate one profile file; ConfigError names file, line, point and field.

    The profile comes back in canonical units: a canonical point whose unit differs from the
    canonical one has the conversion folded into its scale and offset (`units`).
    """
    path = Path(path)
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(
            f"{path}:1: a profile must be a mapping with name, kind, protocol, points"
        )
    protocol = data.get("protocol")
    model = PROFILE_MODELS.get(protocol) if isinstance(protocol, str) else None
    if model is None:
        raise ConfigError(
            _render(
                path,
                lines,
                data,
                [(("protocol",), f"must be 'modbus' or 'mqtt', got {protocol!r}")],
            )
        )
    in_file = _file_places(data)
    try:
        profile = model.model_validate(data)
    except ValidationError as exc:
        issues = [(in_file(loc), msg) for loc, msg in _pydantic_issues(exc)]
        raise ConfigError(_render(path, lines, data, issues)) from exc
    issues = [(in_file(loc), msg) for loc, msg in profile_issues(profile, path.stem, in_file)]
    if issues:
        raise ConfigError(_render(path, lines, data, issues))
    return in_canonical_units(profile)


def shipped_profiles() -> dict[str, Profile]:
    """Every profile shipped with Plantroom, validated, by name."""
    return {path.stem: load_profile(path) for path in sorted(SHIPPED_DIR.glob("*.yaml"))}
