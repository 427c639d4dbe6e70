"""A loaded scenario against a running simulation: binding its steps, then timing them.

`resolve` checks a `Scenario` against the simulation (does the equipment exist, does its
kind have the fault) before the first step runs, and binds each step to what it acts on. A
`ScenarioRun` applies each step when simulated time reaches it; `Simulation.advance` stops
at step times, so a step lands at its exact simulated second whatever the speed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo
from typing import Any, Protocol

from plantroom.errors import ConfigError
from plantroom.kinds import Kind
from plantroom.yamlload import Loc
from simulators.devices import SimDevice
from simulators.errors import InvalidFaultParams, SimulatorError
from simulators.faults import FaultSpec, FaultTarget
from simulators.registers import Value
from simulators.scenario import Scenario, Step, value_problem, writable

MAX_RUNS_KEPT = 32


class Stage(FaultTarget, Protocol):
    """What a scenario acts on: `simulators.runner.Simulation` in practice."""

    @property
    def now(self) -> float: ...

    @property
    def timezone(self) -> tzinfo: ...

    def device(self, equipment: str) -> SimDevice: ...

    def devices_of(self, building: str) -> list[SimDevice]: ...

    def gateway_fault_specs(self, gateway: str) -> tuple[FaultSpec, ...]: ...

    def gateways_of(self, building: str) -> list[str]: ...

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
            unknown = sorted(set(values) - writable(d.kind))
            if unknown:
                raise _StepProblem(
                    ("values",), f"{d.kind.value} {d.id!r} has no writable point {unknown[0]!r}"
                )
            for name, value in step.values.items():
                problem = value_problem(d.kind, name, value)
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
