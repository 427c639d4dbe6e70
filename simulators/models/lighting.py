"""Four-circuit lighting controller (Lumen LC4 style) on a day/night schedule.

Circuits 1 and 2 light occupied hours (07:00 to 23:00), circuit 3 the night (18:00 to 07:00) and
circuit 4 is always on (stairs, exit routes), in the site's timezone. A lit circuit draws its
working lamps' power; burn hours count while it is lit. The controller publishes the JSON
documented at the top of plantroom/profiles/shipped/lumen-lc4.yaml. Without power every
circuit is dark and the controller says nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from plantroom.kinds import Kind
from simulators.faults import FaultSpec, ParamSpec
from simulators.models.base import DeviceModel, FaultParams, ModelContext, ou_step
from simulators.registers import Value

CIRCUITS = 4
NOMINAL_V = 230.0


@dataclass(frozen=True, slots=True)
class Schedule:
    name: str
    on_at: float  # local hour
    off_at: float

    def lit(self, hour: float) -> bool:
        if self.on_at == self.off_at:
            return True
        if self.on_at < self.off_at:
            return self.on_at <= hour < self.off_at
        return hour >= self.on_at or hour < self.off_at


DAY = Schedule("day", 7.0, 23.0)
NIGHT = Schedule("night", 18.0, 7.0)
ALWAYS = Schedule("always", 0.0, 0.0)


@dataclass(slots=True)
class Circuit:
    n: int
    lamps: int
    lamp_w: float
    schedule: Schedule
    burn_h: float
    on: bool = False


def _hhmm(hour: float) -> str:
    return f"{int(hour):02d}:{round(hour % 1 * 60):02d}"


_CIRCUIT = ParamSpec("circuit", int, 1, "circuit number", 1, CIRCUITS)


class LightingModel(DeviceModel):
    kind: ClassVar[Kind] = Kind.LIGHTING
    max_step: ClassVar[float] = 10.0
    FAULTS: ClassVar[tuple[FaultSpec, ...]] = (
        FaultSpec(
            "lamp_failure",
            "lamps fail on a circuit: its `failed` count rises and its power drops by their share",
            (
                _CIRCUIT,
                ParamSpec("lamps", int, 1, "failed lamps (at most the circuit's lamps)", 1, 64),
            ),
        ),
        FaultSpec(
            "circuit_trip",
            "the circuit's breaker trips: tripped=true, on=false, power_w=0",
            (_CIRCUIT,),
        ),
    )

    def __init__(self, ctx: ModelContext) -> None:
        super().__init__(ctx)
        r = self.rng
        self.circuits = [
            Circuit(1, r.randint(10, 14), 36.0, DAY, r.uniform(2_000, 9_000)),
            Circuit(2, r.randint(10, 14), 36.0, DAY, r.uniform(2_000, 9_000)),
            Circuit(3, r.randint(6, 10), 54.0, NIGHT, r.uniform(2_000, 9_000)),
            Circuit(4, r.randint(14, 18), 18.0, ALWAYS, r.uniform(10_000, 30_000)),
        ]
        self.mains_dev = 0.0
        self._switch()

    def _fault_on(self, name: str, n: int) -> bool:
        params = self.faults.get(name)
        return params is not None and params.get("circuit") == n

    def tripped(self, n: int) -> bool:
        return self._fault_on("circuit_trip", n)

    def failed(self, c: Circuit) -> int:
        if not self._fault_on("lamp_failure", c.n):
            return 0
        lamps = self.faults["lamp_failure"].get("lamps")
        return min(c.lamps, int(lamps) if isinstance(lamps, int | float) else 1)

    def _switch(self) -> None:
        hour = self.local_hours()
        for c in self.circuits:
            c.on = self.powered and c.schedule.lit(hour) and not self.tripped(c.n)

    def _time_to_event(self) -> float:
        """Seconds to the next schedule edge, so switching happens on the minute."""
        hour = self.local_hours()
        edges = [e for c in self.circuits for e in (c.schedule.on_at, c.schedule.off_at)]
        ahead = [(e - hour) % 24.0 for e in edges]
        soonest = min((a for a in ahead if a > 1e-6), default=24.0)
        return soonest * 3600.0

    def _step(self, h: float) -> None:
        for c in self.circuits:
            if c.on:
                c.burn_h += h / 3600.0
        self.mains_dev = ou_step(self.mains_dev, 0.0, 1.5, 600.0, h, self.rng)
        self._switch()

    def _on_inject(self, name: str, params: FaultParams) -> None:
        self._switch()

    def _on_clear(self, name: str) -> None:
        self._switch()

    def _on_power(self, on: bool) -> None:
        self._switch()

    def mains_voltage(self) -> float:
        return NOMINAL_V + self.mains_dev if self.powered else 0.0

    def circuit_power(self, c: Circuit) -> float:
        if not c.on:
            return 0.0
        working = c.lamps - self.failed(c)
        return working * c.lamp_w * (1.0 + self.noise.gauss(0.0, 0.004))

    def payload(self, device: str) -> dict[str, Any]:
        """The controller's message, as documented in profiles/shipped/lumen-lc4.yaml."""
        return {
            "device": device,
            "time": round(self.now * 1000),
            "mains_v": round(self.mains_voltage(), 1),
            "circuits": [
                {
                    "n": c.n,
                    "on": c.on,
                    "power_w": round(self.circuit_power(c), 1),
                    "lamps": c.lamps,
                    "failed": self.failed(c),
                    "tripped": self.tripped(c.n),
                    "burn_h": round(c.burn_h, 1),
                }
                for c in self.circuits
            ],
        }

    def values(self) -> dict[str, Value]:
        out: dict[str, Value] = {"mains_voltage": round(self.mains_voltage(), 1)}
        for c in self.circuits:
            p = f"circuit_{c.n}_"
            out[p + "on"] = c.on
            out[p + "power"] = round(self.circuit_power(c), 1)
            out[p + "lamps"] = c.lamps
            out[p + "failed_lamps"] = self.failed(c)
            out[p + "tripped"] = self.tripped(c.n)
            out[p + "burn_hours"] = round(c.burn_h, 1)
        return out

    def detail(self) -> dict[str, Any]:
        return {
            "schedules": {
                c.n: f"{c.schedule.name} {_hhmm(c.schedule.on_at)}-{_hhmm(c.schedule.off_at)}"
                for c in self.circuits
            },
            "local_time": self.local_time().isoformat(timespec="seconds"),
        }
