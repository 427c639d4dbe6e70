"""Scenario files: timed steps — faults, power cuts, lost communication — on simulated time.

    name: burst-pipe-at-night
    start: "01:50"                 # optional: site time the scenario clock starts at
    steps:
      - at: 10m                    # after the start: 90s, 15m, 2h30m, 3d, 2w, or seconds
        do: inject                 # or clear, set, power_fail, power_restore, comm_loss,
                                   # comm_restore
        building: tower-a          # or equipment: <id>, or gateway: <host:port | serial device>
        kind: pump                 # with building: only this kind ...
        tags: {system: sump}       # ... and only equipment with these tags
        fault: high_level
        params: {}                 # the fault's parameters (power_fail: trapped)

A file is validated when it is loaded (`load_scenario`), with errors naming the file, the
line and the step field; `simulators.scenario_run.resolve` then checks it against the running
simulation (does the
equipment exist, does its kind have the fault) before the first step runs. A `ScenarioRun`
applies each step when simulated time reaches it; `Simulation.advance` stops at step times,
so a step lands at its exact simulated second whatever the speed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

from plantroom.errors import ConfigError
from plantroom.kinds import Kind
from plantroom.yamlload import Loc, describe_error, line_of, load_yaml
from simulators.devices import transport_faults
from simulators.errors import InvalidFaultParams
from simulators.faults import TCP_GATEWAY_FAULTS, FaultSpec, ParamSpec
from simulators.models import MODELS
from simulators.registers import DataType

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_UNIT_S = {"w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")

Action = Literal[
    "inject", "clear", "set", "power_fail", "power_restore", "comm_loss", "comm_restore"
]
POWER_FAIL_PARAMS = (
    ParamSpec(
        "trapped",
        int,
        None,
        "at least this many cars are caught between floors with passengers (unset: only "
        "those running at the time)",
        0,
        1000,
    ),
)


def parse_duration(value: Any) -> float:
    """`90s`, `15m`, `2h30m`, `1d12h`, `2w`, `500ms` or a number of seconds → seconds."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        if value < 0:
            raise ValueError(f"a duration cannot be negative, got {value}")
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"expected a duration like 90s, 15m or 2h30m, got {value!r}")
    text = value.replace(" ", "")
    total, pos = 0.0, 0
    for m in _PART.finditer(text):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _UNIT_S[m.group(2)]
        pos = m.end()
    if not text or pos != len(text):
        raise ValueError(
            f"{value!r} is not a duration: use a number with w, d, h, m, s or ms, e.g. 90s, "
            f"15m, 2h30m"
        )
    return total


def _clock(value: Any) -> str:
    if not isinstance(value, str) or not _CLOCK.match(value.strip()):
        raise ValueError(f'expected a site time like "01:50" (HH:MM), got {value!r}')
    return value.strip()


Duration = Annotated[float, BeforeValidator(parse_duration)]
Clock = Annotated[str, BeforeValidator(_clock)]
Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    at: Duration
    do: Action
    equipment: Ident | None = None
    building: Ident | None = None
    gateway: str | None = Field(default=None, min_length=1)
    kind: Kind | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    fault: str | None = Field(default=None, min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    values: dict[str, bool | int | float] = Field(default_factory=dict)
    note: str | None = None


class Scenario(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    description: str | None = None
    start: Clock | None = None
    steps: list[Step] = Field(min_length=1)

    _source: str = PrivateAttr(default="<scenario>")
    _lines: dict[Loc, int] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str:
        return self._source

    def where(self, loc: Loc) -> str:
        """`file:line: steps.2.fault` for an error message."""
        line = line_of(self._lines, loc)
        place = f"{self._source}:{line}" if line is not None else self._source
        return f"{place}: {'.'.join(str(p) for p in loc)}"

    def to_request(self) -> dict[str, Any]:
        """The scenario as the control endpoint takes it, line numbers included."""
        return {
            "source": self._source,
            "scenario": self.model_dump(mode="json", exclude_defaults=True),
            "lines": {".".join(str(p) for p in loc): n for loc, n in self._lines.items()},
        }


def _from_data(data: Any, source: str, lines: dict[Loc, int]) -> Scenario:
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_error(Path(source), lines, exc)) from exc
    scenario._source = source
    scenario._lines = lines
    problems = check(scenario)
    if problems:
        raise ConfigError("\n".join(f"{scenario.where(loc)}: {msg}" for loc, msg in problems))
    return scenario


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate a scenario file; ConfigError names the file, line and step field."""
    path = Path(path)
    data, lines = load_yaml(path)
    return _from_data(data, str(path), lines)


def scenario_from_request(body: Mapping[str, Any]) -> Scenario:
    """A scenario sent to the control endpoint (see `Scenario.to_request`)."""
    source = str(body.get("source") or "<request>")
    raw_lines = body.get("lines") or {}
    lines: dict[Loc, int] = {}
    if isinstance(raw_lines, Mapping):
        for key, n in raw_lines.items():
            if isinstance(key, str) and isinstance(n, int):
                parts = key.split(".") if key else []
                lines[tuple(int(p) if p.isdigit() else p for p in parts)] = n
    return _from_data(body.get("scenario"), source, lines)


# -- checks that need no simulation ------------------------------------------------------
def _kind_faults(kind: Kind) -> dict[str, FaultSpec]:
    return {f.name: f for f in (*MODELS[kind].FAULTS, *transport_faults(kind))}


def writable(kind: Kind) -> set[str]:
    register_map = MODELS[kind].register_map
    return {p.name for p in register_map.points if p.writable} if register_map else set()


def value_problem(kind: Kind, name: str, value: bool | int | float) -> str | None:
    """Why a command value does not fit its point (type or range), or None when it does."""
    register_map = MODELS[kind].register_map
    point = register_map.by_name.get(name) if register_map else None
    if point is None:
        return None
    if point.type is DataType.BOOL:
        return None if isinstance(value, bool) else f"{name} takes true or false, got {value!r}"
    if isinstance(value, bool):
        return f"{name} takes a number, got {value!r}"
    low, high = point.minimum, point.maximum
    if (low is not None and value < low) or (high is not None and value > high):
        return f"{name} {value:g} is outside {low:g}..{high:g} {point.unit or ''}".rstrip()
    return None


GATEWAY_FAULTS: dict[str, FaultSpec] = {f.name: f for f in TCP_GATEWAY_FAULTS}


def check(scenario: Scenario) -> list[tuple[Loc, str]]:
    """Every problem of the steps that can be seen without the inventory."""
    problems: list[tuple[Loc, str]] = []
    for i, step in enumerate(scenario.steps):
        problems.extend(_check_step(("steps", i), step))
    return problems


def _check_step(at: Loc, step: Step) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    targets = [name for name in ("equipment", "building", "gateway") if getattr(step, name)]
    if not targets:
        out.append((at, "name a target: equipment, building or gateway"))
    elif len(targets) > 1:
        out.append(((*at, targets[1]), f"give one target, not both {targets[0]} and {targets[1]}"))
    for name in ("kind", "tags"):
        if getattr(step, name) and not step.building:
            out.append(((*at, name), f"{name} narrows a building target; there is no building"))
    if step.do == "inject" and not step.fault:
        out.append((at, "inject needs a fault"))
    if step.fault and step.do not in ("inject", "clear"):
        out.append(((*at, "fault"), f"{step.do} takes no fault (only inject and clear do)"))
    if step.do == "set" and not step.values:
        out.append((at, "set needs values: {point: value, ...}"))
    if step.values and step.do != "set":
        out.append(((*at, "values"), f"{step.do} takes no values (only set does)"))
    if step.params and step.do not in ("inject", "power_fail"):
        out.append(((*at, "params"), f"{step.do} takes no params"))
    if step.gateway and step.do not in ("inject", "clear"):
        out.append(((*at, "do"), f"a gateway takes inject and clear only, not {step.do}"))
    if out:
        return out
    kinds = [step.kind] if step.kind else list(Kind)
    if step.fault:
        specs = _candidate_specs(step, kinds)
        if not specs:
            out.append(((*at, "fault"), _unknown_fault(step, kinds)))
        elif step.do == "inject":
            for spec in specs:
                try:
                    spec.validate(step.params)
                except InvalidFaultParams as exc:
                    out.append(((*at, "params"), str(exc)))
                    break
    if step.do == "power_fail":
        try:
            FaultSpec("power_fail", "", POWER_FAIL_PARAMS).validate(step.params)
        except InvalidFaultParams as exc:
            out.append(((*at, "params"), str(exc).replace("fault 'power_fail'", "power_fail")))
    if step.do == "set":
        known = set().union(*(writable(k) for k in kinds))
        unknown = sorted(set(step.values) - known)
        if unknown:
            out.append(
                (
                    (*at, "values"),
                    f"no writable point {', '.join(map(repr, unknown))}; writable: "
                    f"{', '.join(sorted(known)) or 'none'}",
                )
            )
    return out


def _candidate_specs(step: Step, kinds: Sequence[Kind]) -> list[FaultSpec]:
    assert step.fault is not None
    if step.gateway:
        spec = GATEWAY_FAULTS.get(step.fault)
        return [spec] if spec else []
    if step.building and step.fault == "port_closed":
        return [GATEWAY_FAULTS["port_closed"]]
    return [f for k in kinds if (f := _kind_faults(k).get(step.fault)) is not None]


def _unknown_fault(step: Step, kinds: Sequence[Kind]) -> str:
    if step.gateway:
        valid = list(GATEWAY_FAULTS)
        return f"unknown gateway fault {step.fault!r}; gateway faults: {', '.join(valid)}"
    valid = sorted({name for k in kinds for name in _kind_faults(k)})
    what = f"{kinds[0].value} " if len(kinds) == 1 else ""
    return f"unknown {what}fault {step.fault!r}; known faults: {', '.join(valid)}"
