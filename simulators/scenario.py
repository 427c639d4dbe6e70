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
line and the step field; `resolve` then checks it against the running simulation (does the
equipment exist, does its kind have the fault) before the first step runs. A `ScenarioRun`
applies each step when simulated time reaches it; `Simulation.advance` stops at step times,
so a step lands at its exact simulated second whatever the speed.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import Annotated, Any, Literal, Protocol

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

from plantroom.errors import ConfigError
from plantroom.kinds import Kind
from plantroom.yamlload import Loc, describe_error, line_of, load_yaml
from simulators.devices import SimDevice, transport_faults
from simulators.errors import InvalidFaultParams, SimulatorError
from simulators.faults import TCP_GATEWAY_FAULTS, FaultSpec, ParamSpec
from simulators.models import MODELS
from simulators.registers import DataType, Value

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)")
_UNIT_S = {"w": 604_800.0, "d": 86_400.0, "h": 3_600.0, "m": 60.0, "s": 1.0, "ms": 0.001}
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
MAX_RUNS_KEPT = 32

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


def _writable(kind: Kind) -> set[str]:
    register_map = MODELS[kind].register_map
    return {p.name for p in register_map.points if p.writable} if register_map else set()


def _value_problem(kind: Kind, name: str, value: bool | int | float) -> str | None:
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
        known = set().union(*(_writable(k) for k in kinds))
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


# -- against a simulation ---------------------------------------------------------------
class Stage(Protocol):
    """What a scenario acts on: `simulators.runner.Simulation` in practice."""

    @property
    def now(self) -> float: ...

    @property
    def timezone(self) -> tzinfo: ...

    def device(self, equipment: str) -> SimDevice: ...

    def devices_of(self, building: str) -> list[SimDevice]: ...

    def gateway_fault_specs(self, gateway: str) -> tuple[FaultSpec, ...]: ...

    def gateways_of(self, building: str) -> list[str]: ...

    def inject(
        self, equipment: str, fault: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]: ...

    def clear(self, equipment: str, fault: str | None = None) -> dict[str, Any]: ...

    def inject_gateway(
        self, gateway: str, fault: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]: ...

    def clear_gateway(self, gateway: str, fault: str | None = None) -> dict[str, Any]: ...

    def write(self, equipment: str, values: Mapping[str, Value]) -> None: ...

    def set_power(
        self, equipment: Sequence[str], on: bool, trapped: int | None = None
    ) -> list[str]: ...


@dataclass(slots=True)
class ResolvedStep:
    index: int
    at: float
    text: str
    apply: Callable[[], object]


@dataclass(slots=True)
class ScenarioRun:
    """One scenario running on a simulation: which steps are done, which are due when."""

    scenario: Scenario
    steps: list[ResolvedStep]
    started: float  # simulated time it was started
    t0: float  # simulated time its clock starts (the `start` time of day, or `started`)
    position: int = 0
    log: list[dict[str, Any]] = field(default_factory=list)
    finished: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def name(self) -> str:
        return self.scenario.name

    @property
    def done(self) -> bool:
        return self.position >= len(self.steps)

    def next_due(self) -> float:
        """Simulated time of the next step (inf when all have run)."""
        return self.t0 + self.steps[self.position].at if not self.done else float("inf")

    def apply_due(self, now: float) -> None:
        """Apply every step whose time has come, in file order."""
        while not self.done and self.t0 + self.steps[self.position].at <= now + 1e-6:
            step = self.steps[self.position]
            self.position += 1
            entry: dict[str, Any] = {"step": step.index, "at": step.at, "time": now}
            try:
                step.apply()
                entry["did"] = step.text
            except Exception as exc:  # a step that fails is logged; the scenario goes on
                entry["did"] = step.text
                entry["error"] = str(exc)
            self.log.append(entry)
        if self.done:
            self.finished.set()

    async def wait(self) -> None:
        """Until every step has been applied."""
        await self.finished.wait()

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "source": self.scenario.source,
            "started": self.started,
            "clock_start": self.t0,
            "steps": len(self.steps),
            "applied": self.position,
            "next_at": None if self.done else self.next_due(),
            "done": self.done,
            "log": list(self.log),
        }


def clock_start(start: str | None, now: float, tz: tzinfo) -> float:
    """The next simulated moment at `start` (HH:MM site time), or now when there is none."""
    if start is None:
        return now
    hour, minute = (int(p) for p in start.split(":"))
    local = datetime.fromtimestamp(now, tz)
    at = local.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if at.timestamp() < now - 1e-6:
        at = (at.replace(tzinfo=None) + timedelta(days=1)).replace(tzinfo=tz)
    return at.timestamp()


def resolve(scenario: Scenario, stage: Stage) -> ScenarioRun:
    """Check every step against the simulation and bind it; ConfigError lists what is wrong."""
    problems: list[tuple[Loc, str]] = []
    steps: list[ResolvedStep] = []
    for i, step in enumerate(scenario.steps):
        try:
            steps.append(_bind(i, step, stage))
        except _StepProblem as exc:
            problems.append(((("steps", i, *exc.field)), exc.message))
    if problems:
        raise ConfigError("\n".join(f"{scenario.where(loc)}: {msg}" for loc, msg in problems))
    steps.sort(key=lambda s: s.at)  # stable: steps at the same time keep their file order
    now = stage.now
    return ScenarioRun(scenario, steps, now, clock_start(scenario.start, now, stage.timezone))


class _StepProblem(Exception):
    def __init__(self, field: Loc, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _devices(step: Step, stage: Stage) -> list[SimDevice]:
    if step.equipment:
        try:
            return [stage.device(step.equipment)]
        except SimulatorError as exc:
            raise _StepProblem(("equipment",), str(exc)) from None
    assert step.building is not None
    try:
        found = stage.devices_of(step.building)
    except SimulatorError as exc:
        raise _StepProblem(("building",), str(exc)) from None
    chosen = [
        d
        for d in found
        if (step.kind is None or d.kind is step.kind)
        and all(d.equipment.tags.get(k) == v for k, v in step.tags.items())
    ]
    if not chosen:
        narrowed = " ".join(
            part
            for part in (
                step.kind.value if step.kind else "equipment",
                f"tagged {step.tags}" if step.tags else "",
            )
            if part
        )
        raise _StepProblem(("building",), f"no simulated {narrowed} in building {step.building!r}")
    return chosen


def _bind(index: int, step: Step, stage: Stage) -> ResolvedStep:
    target = step.equipment or step.building or step.gateway
    text = f"{step.do} {step.fault or ''} {target}".replace("  ", " ")
    if step.gateway:
        return ResolvedStep(index, step.at, text, _bind_gateway(step, step.gateway, stage))
    if step.building and step.fault == "port_closed":
        return ResolvedStep(index, step.at, text, _bind_building_gateways(step, stage))
    devices = _devices(step, stage)
    ids = [d.id for d in devices]
    if step.do in ("inject", "clear") and step.fault:
        fault = step.fault
        able = [d for d in devices if fault in _names(d)]
        if not able:
            first = devices[0]
            raise _StepProblem(
                ("fault",),
                f"{first.kind.value} {first.id!r} has no fault {fault!r}; its faults: "
                f"{', '.join(sorted(_names(first)))}"
                if step.equipment
                else f"no equipment chosen in building {step.building!r} has fault {fault!r}",
            )
        names = [d.id for d in able]
        if step.do == "inject":
            params = dict(step.params)
            for d in able:
                spec = next(s for s in d.fault_specs() if s.name == fault)
                try:
                    spec.validate(params)
                except InvalidFaultParams as exc:
                    raise _StepProblem(("params",), str(exc)) from None
            return ResolvedStep(
                index, step.at, text, lambda: [stage.inject(e, fault, params) for e in names]
            )
        return ResolvedStep(index, step.at, text, lambda: [stage.clear(e, fault) for e in names])
    if step.do == "clear":
        return ResolvedStep(index, step.at, text, lambda: [stage.clear(e) for e in ids])
    if step.do == "set":
        values: dict[str, Value] = dict(step.values)
        for d in devices:
            unknown = sorted(set(values) - _writable(d.kind))
            if unknown:
                raise _StepProblem(
                    ("values",), f"{d.kind.value} {d.id!r} has no writable point {unknown[0]!r}"
                )
            for name, value in step.values.items():
                problem = _value_problem(d.kind, name, value)
                if problem:
                    raise _StepProblem(("values", name), problem)

        def write() -> None:
            for e in ids:
                stage.write(e, values)

        return ResolvedStep(index, step.at, text, write)
    if step.do in ("power_fail", "power_restore"):
        on = step.do == "power_restore"
        trapped = step.params.get("trapped")
        count = int(trapped) if isinstance(trapped, int | float) else None
        return ResolvedStep(index, step.at, text, lambda: stage.set_power(ids, on, count))
    # comm_loss / comm_restore: the transport goes quiet, the device goes on working
    quiet = {d.id: ("offline" if d.kind is Kind.LIGHTING else "no_response") for d in devices}
    if step.do == "comm_loss":
        return ResolvedStep(
            index, step.at, text, lambda: [stage.inject(e, f) for e, f in quiet.items()]
        )
    return ResolvedStep(index, step.at, text, lambda: [stage.clear(e, f) for e, f in quiet.items()])


def _names(device: SimDevice) -> set[str]:
    return {s.name for s in device.fault_specs()}


def _bind_gateway(step: Step, gateway: str, stage: Stage) -> Callable[[], object]:
    assert step.fault is not None
    fault, params = step.fault, dict(step.params)
    try:
        specs = stage.gateway_fault_specs(gateway)
    except SimulatorError as exc:
        raise _StepProblem(("gateway",), str(exc)) from None
    spec = next((s for s in specs if s.name == fault), None)
    if spec is None:
        valid = ", ".join(s.name for s in specs) or "none"
        raise _StepProblem(("fault",), f"gateway {gateway} has no fault {fault!r}; its: {valid}")
    if step.do == "inject":
        return lambda: stage.inject_gateway(gateway, fault, params)
    return lambda: stage.clear_gateway(gateway, fault)


def _bind_building_gateways(step: Step, stage: Stage) -> Callable[[], object]:
    assert step.fault is not None and step.building is not None
    fault, params = step.fault, dict(step.params)
    try:
        gateways = stage.gateways_of(step.building)
    except SimulatorError as exc:
        raise _StepProblem(("building",), str(exc)) from None
    able = [g for g in gateways if fault in {s.name for s in stage.gateway_fault_specs(g)}]
    if not able:
        raise _StepProblem(
            ("fault",), f"no gateway of building {step.building!r} has fault {fault!r}"
        )
    if step.do == "inject":
        return lambda: [stage.inject_gateway(g, fault, params) for g in able]
    return lambda: [stage.clear_gateway(g, fault) for g in able]


def prune(runs: list[ScenarioRun]) -> None:
    """Keep every running scenario and the latest finished ones."""
    finished = [r for r in runs if r.done]
    for old in finished[: max(0, len(finished) - MAX_RUNS_KEPT)]:
        runs.remove(old)
