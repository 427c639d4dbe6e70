"""What every behavioural model shares: simulated time, seeded randomness, active faults."""

from __future__ import annotations

import math
import random
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any, ClassVar
from zoneinfo import ZoneInfo

from plantroom.kinds import Kind
from simulators.faults import FaultSpec, ParamValue
from simulators.registers import RegisterMap, Value

MIN_STEP_S = 1e-3
OFFSET_SLOT_S = 900

FaultParams = dict[str, ParamValue | None]


@dataclass(frozen=True, slots=True)
class ModelContext:
    """Where a model stands: its identity, its seed, the building around it, its clock."""

    equipment_id: str
    seed: int = 1
    start_time: float = 1_767_225_600.0  # simulated epoch seconds at t = 0 (2026-01-01 UTC)
    timezone: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))
    floors: int | None = None
    tags: Mapping[str, str] = field(default_factory=dict)


class DeviceModel(ABC):
    """A device's behaviour on simulated time.

    `advance(dt)` moves the model forward `dt` simulated seconds in steps no longer than
    `step_limit()` and never past the model's next event, so the same seed and the same calls
    give the same trajectory. Physics draws from `rng`; measurement noise from `noise`, so
    reading values never changes what the device does.
    """

    kind: ClassVar[Kind]
    FAULTS: ClassVar[tuple[FaultSpec, ...]]
    register_map: ClassVar[RegisterMap | None] = None
    max_step: ClassVar[float] = 5.0
    battery_backed: ClassVar[bool] = False  # keeps running (and answering) on a power cut

    def __init__(self, ctx: ModelContext) -> None:
        self.ctx = ctx
        self.now = ctx.start_time
        self.rng = random.Random(f"{ctx.seed}:{ctx.equipment_id}:physics")
        self.noise = random.Random(f"{ctx.seed}:{ctx.equipment_id}:noise")
        self.faults: dict[str, FaultParams] = {}
        self.powered = True
        self._tz_slot = math.nan  # the quarter hour whose UTC offset is cached
        self._tz_offset = 0

    # -- time ------------------------------------------------------------------------
    def advance(self, dt: float) -> None:
        if not math.isfinite(dt) or dt < 0:
            raise ValueError(f"cannot advance a model by {dt!r} seconds")
        remaining = dt
        while remaining > 1e-9:
            h = min(remaining, self.step_limit(), max(self._time_to_event(), MIN_STEP_S))
            self.now += h
            remaining -= h
            self._step(h)

    def local_time(self) -> datetime:
        return datetime.fromtimestamp(self.now, self.ctx.timezone)

    def local_hours(self) -> float:
        """Hours since local midnight (to the whole second), e.g. 18.5 at half past six pm."""
        second = math.floor(self.now)
        slot = second // OFFSET_SLOT_S
        if slot != self._tz_slot:
            # time zones change their offset on a quarter hour at most, so one lookup per slot
            start = datetime.fromtimestamp(slot * OFFSET_SLOT_S, self.ctx.timezone)
            offset = start.utcoffset()
            self._tz_offset = int(offset.total_seconds()) if offset is not None else 0
            self._tz_slot = slot
        return ((second + self._tz_offset) % 86400) / 3600

    def step_limit(self) -> float:
        """The longest step the model's physics allows just now."""
        return self.max_step

    def _time_to_event(self) -> float:
        """Simulated seconds until the model's next discrete event (inf when none)."""
        return math.inf

    @abstractmethod
    def _step(self, h: float) -> None:
        """Advance the state by `h` seconds; `self.now` is already at the end of the step."""

    # -- values ----------------------------------------------------------------------
    @abstractmethod
    def values(self) -> dict[str, Value]:
        """Current point values in engineering units, keyed by point name."""

    def detail(self) -> dict[str, Any]:
        """Internal state worth showing on the control endpoint, beyond the points."""
        return {}

    def write(self, point: str, value: Value) -> None:
        """Apply a write to a writable point; ValueError when the value is refused."""
        raise ValueError(f"point {point!r} is not writable")

    # -- power -----------------------------------------------------------------------
    def set_power(self, on: bool) -> None:
        """The supply fails (False) or returns (True); the model reacts in `_on_power`."""
        if on == self.powered:
            return
        self.powered = on
        self._on_power(on)

    def _on_power(self, on: bool) -> None:
        """React at once to the supply failing or returning."""
        return None

    # -- faults ----------------------------------------------------------------------
    @classmethod
    def fault_spec(cls, name: str) -> FaultSpec | None:
        for spec in cls.FAULTS:
            if spec.name == name:
                return spec
        return None

    def inject(self, name: str, params: FaultParams) -> None:
        """Make a fault active with validated params (re-injecting replaces its params)."""
        if self.fault_spec(name) is None:
            raise KeyError(name)
        self.faults[name] = dict(params)
        self._on_inject(name, self.faults[name])

    def clear(self, name: str | None = None) -> list[str]:
        """Clear one fault or all; returns the names cleared."""
        names = list(self.faults) if name is None else [name] if name in self.faults else []
        for n in names:
            del self.faults[n]
            self._on_clear(n)
        return names

    def _on_inject(self, name: str, params: FaultParams) -> None:
        """React at once to a new fault; most faults act through `_step`."""
        return None

    def _on_clear(self, name: str) -> None:
        """React at once to a cleared fault."""
        return None


def first_order(value: float, target: float, h: float, tau: float) -> float:
    """Exact first-order lag over a step of `h` seconds with time constant `tau`."""
    return target + (value - target) * math.exp(-h / tau)


def ou_step(x: float, mean: float, sigma: float, tau: float, h: float, rng: random.Random) -> float:
    """Ornstein-Uhlenbeck step: noise that wanders around `mean` with spread `sigma`."""
    a = math.exp(-h / tau)
    return mean + (x - mean) * a + sigma * math.sqrt(1 - a * a) * rng.gauss(0.0, 1.0)
