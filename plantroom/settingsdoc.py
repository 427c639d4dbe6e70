"""The settings reference (docs/settings.md), generated from the settings classes.

    python -m plantroom.settingsdoc                 # print the page
    python -m plantroom.settingsdoc --write         # write docs/settings.md (from the repo root)

Every field of every process's settings class becomes one `PLANTROOM_*` row: its default, the
values it takes (from its type and bounds) and its description. A field that several processes
read (through a shared base class, or declared in each) is listed once under the processes
that read it, with each process's default where they differ. Secrets show no value.
"""

from __future__ import annotations

import enum
import types
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import AliasChoices, SecretStr
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, NoDecode

from plantroom.docpage import page_main
from plantroom.settings import (
    DEFAULT_SECRETS_DIR,
    CloudSettings,
    EdgeSettings,
    GatewaySettings,
    SimSettings,
)
from plantroom.settingtypes import ENV_PREFIX

DOC_PATH = Path("docs/settings.md")
COMMAND = "python -m plantroom.settingsdoc --write"
SECRET = "(secret)"


@dataclass(frozen=True, slots=True)
class Process:
    """One process and the settings class it reads."""

    name: str
    command: str
    settings: type[BaseSettings]


PROCESSES: tuple[Process, ...] = (
    Process("edge agent", "plantroom edge", EdgeSettings),
    Process("gateway", "plantroom gateway", GatewaySettings),
    Process("cloud", "plantroom cloud", CloudSettings),
    Process("simulators", "plantroom sim", SimSettings),
)


@dataclass(frozen=True, slots=True)
class Row:
    """One variable as one process reads it."""

    variable: str
    process: Process
    default: str
    values: str
    description: str


def env_name(cls: type[BaseSettings], name: str, field: FieldInfo) -> str:
    """The environment variable a field is read from: its alias, else prefix + name."""
    alias = field.validation_alias
    if isinstance(alias, AliasChoices):
        alias = next((c for c in alias.choices if isinstance(c, str)), None)
    if isinstance(alias, str):
        return alias.upper()
    prefix = str(cls.model_config.get("env_prefix", ""))
    return f"{prefix}{name}".upper()


def _is_secret(annotation: Any) -> bool:
    return annotation is SecretStr or any(_is_secret(a) for a in get_args(annotation))


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        rest = [a for a in get_args(annotation) if a is not type(None)]
        return rest[0] if len(rest) == 1 else annotation
    return annotation


def _type_words(annotation: Any) -> str:
    annotation = _without_none(annotation)
    origin = get_origin(annotation)
    if origin is Literal:
        return " or ".join(f"`{v}`" for v in get_args(annotation))
    if origin in (list, tuple, set, frozenset):
        (item, *_) = get_args(annotation) or (str,)
        return f"JSON list of {_type_words(item)}"
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " or ".join(f"`{m.value}`" for m in annotation)
    words = {
        bool: "true or false",
        int: "integer",
        float: "number",
        str: "text",
        Path: "path",
        SecretStr: "text",
    }
    if isinstance(annotation, type) and annotation in words:
        return words[annotation]
    return f"`{getattr(annotation, '__name__', annotation)}`"


def _bounds(field: FieldInfo) -> str:
    low = high = ""
    for rule in field.metadata:
        if isinstance(rule, annotated_types.Ge):
            low = f"≥ {rule.ge}"
        elif isinstance(rule, annotated_types.Gt):
            low = f"above {rule.gt}"
        elif isinstance(rule, annotated_types.Le):
            high = f"≤ {rule.le}"
        elif isinstance(rule, annotated_types.Lt):
            high = f"below {rule.lt}"
    return ", ".join(b for b in (low, high) if b)


def values_text(field: FieldInfo) -> str:
    """What a variable takes: the type in words and its bounds, e.g. `integer, ≥ 1, ≤ 65535`."""
    words = _type_words(field.annotation)
    if words.startswith("JSON list of ") and any(
        m is NoDecode or isinstance(m, NoDecode) for m in field.metadata
    ):
        words = f"list of {words.removeprefix('JSON list of ')}, comma-separated (or a JSON list)"
    bounds = _bounds(field)
    return f"{words}, {bounds}" if bounds else words


def default_text(field: FieldInfo) -> str:
    """A field's default as it would be written in the environment; secrets show no value."""
    if _is_secret(field.annotation):
        return SECRET
    if field.is_required():
        return "required"
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "none"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, (list, tuple, set, frozenset)) and not value:
        return "empty"
    if value == "":
        return "empty"
    return f"`{value}`"


def cell(text: str) -> str:
    """Text safe in a Markdown table cell: pipes escaped, `<` and `>` outside code spans."""
    parts = text.replace("\n", " ").replace("|", "\\|").split("`")
    for i in range(0, len(parts), 2):
        parts[i] = parts[i].replace("<", "&lt;").replace(">", "&gt;")
    return "`".join(parts)


def rows(processes: Sequence[Process]) -> list[Row]:
    """Every variable of every process, in the order the classes declare their fields."""
    found = []
    for process in processes:
        for name, field in process.settings.model_fields.items():
            found.append(
                Row(
                    variable=env_name(process.settings, name, field),
                    process=process,
                    default=default_text(field),
                    values=values_text(field),
                    description=(field.description or "").strip(),
                )
            )
    return found


def _readers(names: Sequence[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _merged(group: list[Row], many: bool) -> tuple[str, str, str]:
    """Default, values and description of one variable read by the processes of `group`."""

    def one(attr: str) -> str:
        seen = [getattr(r, attr) for r in group]
        if len(set(seen)) == 1 or not many:
            return str(seen[0])
        return "; ".join(f"{r.process.name}: {getattr(r, attr)}" for r in group)

    descriptions = [r.description for r in group if r.description]
    description = descriptions[0] if len(set(descriptions)) == 1 else one("description")
    return one("default"), one("values"), description or "—"


def _table(variables: dict[str, list[Row]], many: bool) -> list[str]:
    out = ["| variable | default | values | what |", "|---|---|---|---|"]
    for variable, group in variables.items():
        default, values, description = _merged(group, many)
        out.append(f"| `{variable}` | {cell(default)} | {cell(values)} | {cell(description)} |")
    return out


HEADER = f"""\
# Settings

<!-- Generated from the settings classes by `{COMMAND}`; do not edit by hand. -->

Every Plantroom process reads its settings from `{ENV_PREFIX}*` environment variables, one
flat namespace: a variable that several processes need (the broker, InfluxDB, the inventory)
has one name everywhere, so one environment file serves every process on a box. A bad value
stops the process at start-up with a message naming the variable.

- **Secrets** may also come from files: a file named like the variable in lower case
  (`plantroom_mqtt_password`) in the folder named by `{ENV_PREFIX}SECRETS_DIR`, else in
  `{DEFAULT_SECRETS_DIR}` when it exists, fills that setting; an environment variable wins.
  Their defaults are shown as {SECRET}.
- **Lists** are written as JSON: `["tower-a", "tower-b"]`.
- **Relative paths** — the defaults `sites/demo.yaml`, `var/edge/buffer.sqlite`,
  `var/gateway/buffer`, the SQLite file of `sqlite:///var/cloud/plantroom.sqlite`, and any
  relative path you set — are resolved against the working directory the process is started
  in, so start every process from the same folder or give absolute paths. `plantroom run` and
  `plantroom demo` resolve theirs against the folder they are started from and hand their
  processes absolute paths (`--var`, `--inventory`, `--profiles`).
- The command line's own options (`plantroom wo --token`, `plantroom run --api-port`,
  `plantroom demo --api-port`, …) name their variables in `plantroom … --help`; what
  `plantroom run` and `plantroom servers` take is in [deploy.md](deploy.md).
"""


def render(processes: Sequence[Process] = PROCESSES) -> str:
    """The whole page: the variables several processes share, then each process's own."""
    by_variable: dict[str, list[Row]] = {}
    for row in rows(processes):
        by_variable.setdefault(row.variable, []).append(row)
    shared: dict[tuple[str, ...], dict[str, list[Row]]] = {}
    own: dict[str, dict[str, list[Row]]] = {p.name: {} for p in processes}
    for variable, group in by_variable.items():
        readers = tuple(r.process.name for r in group)
        if len(readers) > 1:
            shared.setdefault(readers, {})[variable] = group
        else:
            own[readers[0]][variable] = group
    lines = [HEADER]
    lines.append("| process | command | settings class |")
    lines.append("|---|---|---|")
    for p in processes:
        lines.append(f"| {p.name} | `{p.command}` | `{p.settings.__name__}` |")
    lines.append("")
    for readers in sorted(shared, key=lambda r: -len(r)):
        lines.append(f"## Shared: {_readers(readers)}")
        lines.append("")
        lines.extend(_table(shared[readers], many=True))
        lines.append("")
    for p in processes:
        if not own[p.name]:
            continue
        lines.append(f"## {p.name[0].upper()}{p.name[1:]} (`{p.command}`)")
        lines.append("")
        lines.extend(_table(own[p.name], many=False))
        lines.append("")
    return "\n".join(lines).rstrip("\n") + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    return page_main("python -m plantroom.settingsdoc", __doc__, DOC_PATH, render, argv)


if __name__ == "__main__":
    raise SystemExit(main())
