"""Booster and sump pumps with a CIM-style controller: cycling on demand, protections, wear.

A **booster** pump keeps a hydropneumatic tank between its cut-in and cut-out pressures: the
building draws water (more in the morning and evening, little at night), the pressure falls to
cut-in, the pump starts and runs up its curve until cut-out. A **sump** pump empties a pit
that fills from drainage: it starts at the start level and stops at the stop level.

The controller's protections watch what the pump measures, with short on-delays, so a fault
shows on the registers the way it would on a real unit: dry running is seen as no flow at low
power, over-current as current above the motor's rating, and so on.

The role comes from the equipment's tags: `system: sump` (or `role: sump`) makes a sump pump;
anything else a booster. Without power the pump stands while the building goes on drawing
water (or the pit goes on filling); it starts again on its own when the supply returns.
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

from plantroom.kinds import Kind
from simulators.faults import FaultSpec, ParamSpec
from simulators.models.base import DeviceModel, ModelContext, first_order, ou_step
from simulators.models.pump_registers import REGISTER_MAP
from simulators.registers import RegisterMap, Value

RATED_SPEED = 2960.0
RATED_POWER_KW = 5.5
RATED_CURRENT_A = 10.5
KW_PER_A = RATED_POWER_KW / RATED_CURRENT_A
AMBIENT_C = 30.0
MIN_RUN_S = 10.0
# booster
SHUTOFF_BAR = 6.5
QMAX = 20.0  # m3/h at zero head
TANK_K = 0.0012  # bar per (m3/h) per second of net flow into the tank
WATERLOGGED_K = TANK_K * 20
BAND_BAR = 1.2
# sump
PIT_M3 = 3.0
SUMP_FLOW = 14.0
SUMP_HEAD_BAR = 1.3
STATIC_HEAD_BAR = 0.5
SHORT_CYCLE_BAND = 1.5
# protections
DRY_FLOW = 1.0
OVER_CURRENT_A = RATED_CURRENT_A * 1.15
TEMP_WARN_C, TEMP_TRIP_C, TEMP_RESET_C = 90.0, 110.0, 80.0
VIB_WARN, VIB_ALARM = 4.5, 7.1
ON_DELAY_S = {"dry_run": 2.0, "low_pressure": 10.0, "over_current": 3.0}
ALARM_PRIORITY = (
    "dry_run",
    "overload",
    "motor_over_temperature",
    "low_pressure",
    "high_level",
    "bearing_wear",
)

# booster demand by local hour (m3/h)
DEMAND = ((0, 1.0), (6, 7.0), (9, 4.0), (12, 6.0), (14, 4.0), (17, 7.5), (21, 3.0))


class PumpModel(DeviceModel):
    kind: ClassVar[Kind] = Kind.PUMP
    register_map: ClassVar[RegisterMap | None] = REGISTER_MAP
    FAULTS: ClassVar[tuple[FaultSpec, ...]] = (
        FaultSpec(
            "dry_run",
            "the pump loses its water (its pressure or level control keeps "
            "calling): it runs with flow ~0, current and power under half, pressure falling "
            "low; dry_run bit and alarm_code 57 after 2 s of dry running",
        ),
        FaultSpec(
            "low_pressure",
            "a burst pipe downstream: the pump runs flat out and the "
            "pressure settles near 1 bar (sump: near 0.2 bar); low_pressure bit and "
            "alarm_code 206 after 10 s",
        ),
        FaultSpec(
            "over_current",
            "mechanical binding: current ~1.8x and power ~1.5x while "
            "running, motor temperature climbs; over_current bit and alarm_code 48 "
            "after 3 s",
        ),
        FaultSpec(
            "bearing_wear",
            "vibration (and with it motor temperature) drifts up over "
            f"simulated days: warning_code 148 past {VIB_WARN} mm/s, alarm_code 148 past "
            f"{VIB_ALARM} mm/s",
            (
                ParamSpec(
                    "rate", float, 1.0, "vibration rise in mm/s per simulated day", 0.01, 1000.0
                ),
            ),
        ),
        FaultSpec(
            "short_cycling",
            "a booster's tank loses its air charge (a sump's level band "
            "narrows): the pump starts and stops many times an hour, `starts` climbs fast",
        ),
        FaultSpec(
            "high_level",
            "a sump is flooded faster than it can pump: sump_level climbs "
            "past 90 %; high_level bit and alarm_code 191 (a booster's plant-room pit "
            "float trips at once)",
        ),
        FaultSpec(
            "leak",
            "the mechanical seal leaks: leak bit at once; a booster also loses "
            "about 0.8 m3/h, so it cycles more often",
        ),
    )

    def __init__(self, ctx: ModelContext) -> None:
        super().__init__(ctx)
        role = ctx.tags.get("role") or ctx.tags.get("system") or ""
        self.sump = role == "sump"
        self.running = False
        self.remote_stop = False
        self.thermal_trip = False
        self.pressure_setpoint = 4.5
        self.start_level = 70.0
        self.stop_level = 20.0
        self.pressure = self.rng.uniform(3.6, 4.4) if not self.sump else STATIC_HEAD_BAR
        self.level = self.rng.uniform(25.0, 60.0)
        self.noise_demand = 0.0
        self.noise_inflow = 0.0
        self.flow = 0.0
        self.power = 0.0
        self.motor_temperature = AMBIENT_C + self.rng.uniform(0.0, 4.0)
        self.base_vibration = self.rng.uniform(1.1, 1.9)
        self.wear = 0.0  # added vibration, mm/s
        self.run_hours = self.rng.uniform(3_000.0, 20_000.0)
        self.starts = self.rng.randrange(2_000, 30_000)
        self.run_time = 0.0
        self.condition_time: dict[str, float] = dict.fromkeys(ON_DELAY_S, 0.0)

    def step_limit(self) -> float:
        return 0.5 if "short_cycling" in self.faults else self.max_step

    # -- physics ---------------------------------------------------------------------
    def _demand(self, h: float) -> float:
        hour = self.local_hours()
        mean = DEMAND[0][1]
        for start, q in DEMAND:
            if hour >= start:
                mean = q
        self.noise_demand = ou_step(self.noise_demand, 0.0, 1.0, 600.0, h, self.rng)
        q = max(0.2, mean + self.noise_demand)
        if "leak" in self.faults:
            q += 0.8
        if "low_pressure" in self.faults:
            q += 30.0 * math.sqrt(max(self.pressure, 0.0) / 3.0)  # the burst
        return q

    def _inflow(self, h: float) -> float:
        self.noise_inflow = ou_step(self.noise_inflow, 0.0, 0.8, 1800.0, h, self.rng)
        q = max(0.2, 1.5 + self.noise_inflow)
        if "high_level" in self.faults:
            q += 25.0
        return q

    def _wants_to_run(self) -> bool:
        if self.remote_stop or self.thermal_trip or not self.powered:
            return False
        if self.running and self.run_time < MIN_RUN_S:
            return True  # the minimum run time
        if self.sump:
            if "dry_run" in self.faults:
                return True  # the level control keeps calling
            stop = self.stop_level
            if "short_cycling" in self.faults:
                stop = self.start_level - SHORT_CYCLE_BAND
            return self.level > stop if self.running else self.level >= self.start_level
        if "dry_run" in self.faults:
            return True  # no water reaches the pump, so pressure never recovers: it keeps calling
        cut_in = self.pressure_setpoint - BAND_BAR
        if self.running:
            return self.pressure < self.pressure_setpoint
        return self.pressure <= cut_in

    def _step(self, h: float) -> None:
        want = self._wants_to_run()
        if want and not self.running:
            self.starts += 1
            self.run_time = 0.0
        self.running = want
        dry = "dry_run" in self.faults
        if self.running:
            self.run_time += h
            self.run_hours += h / 3600.0
        if self.sump:
            self._sump_step(h, dry)
        else:
            self._booster_step(h, dry)
        # electrical side
        if self.running:
            load = 0.3 if dry else 0.40 + 0.55 * min(self.flow, QMAX) / QMAX
            power = RATED_POWER_KW * load
            if "over_current" in self.faults:
                power *= 1.5
            self.power = power
        else:
            self.power = 0.0
        current = self.current()
        heat = 55.0 * (current / RATED_CURRENT_A) ** 2 + 1.5 * self.wear
        target = AMBIENT_C + (heat if self.running else 0.0)
        self.motor_temperature = first_order(self.motor_temperature, target, h, 900.0)
        if "bearing_wear" in self.faults:
            rate = self.faults["bearing_wear"].get("rate")
            self.wear += float(rate if rate is not None else 1.0) * h / 86400.0
        if self.motor_temperature >= TEMP_TRIP_C:
            self.thermal_trip = True
        elif self.thermal_trip and self.motor_temperature < TEMP_RESET_C:
            self.thermal_trip = False
        for name in ON_DELAY_S:
            held = self.condition_time[name] + h
            self.condition_time[name] = held if self._condition(name) else 0.0

    def _booster_step(self, h: float, dry: bool) -> None:
        if self.running and not dry:
            self.flow = QMAX * math.sqrt(max(0.0, 1.0 - self.pressure / SHUTOFF_BAR))
        else:
            self.flow = 0.05 if (self.running and dry) else 0.0
        k = WATERLOGGED_K if "short_cycling" in self.faults else TANK_K
        net = self.flow - self._demand(h)
        self.pressure = min(SHUTOFF_BAR, max(0.1, self.pressure + k * net * h))

    def _sump_step(self, h: float, dry: bool) -> None:
        inflow = self._inflow(h)
        if self.running and not dry:
            burst = "low_pressure" in self.faults
            self.flow = SUMP_FLOW * (1.3 if burst else 1.0)
            if self.level <= 0.5:
                self.flow = min(self.flow, inflow)
            self.pressure = 0.2 if burst else SUMP_HEAD_BAR
        else:
            self.flow = 0.05 if self.running else 0.0
            self.pressure = 0.2 if self.running else STATIC_HEAD_BAR
        self.level += (inflow - self.flow) * h / 3600.0 / PIT_M3 * 100.0
        self.level = min(100.0, max(0.0, self.level))

    def current(self) -> float:
        if not self.running:
            return 0.0
        amps = self.power / KW_PER_A
        if "over_current" in self.faults:
            amps *= 1.2  # the power factor falls as the motor labours
        return amps

    def vibration(self) -> float:
        return self.base_vibration + self.wear if self.running else 0.05

    # -- protections -----------------------------------------------------------------
    def _condition(self, name: str) -> bool:
        if name == "dry_run":
            return self.running and self.flow < DRY_FLOW and self.power < 0.45 * RATED_POWER_KW
        if name == "low_pressure":
            return self.running and self.pressure < (0.4 if self.sump else 1.5)
        return self.current() > OVER_CURRENT_A

    def _tripped(self, name: str) -> bool:
        return self.condition_time[name] >= ON_DELAY_S[name]

    def high_level(self) -> bool:
        if self.sump:
            return self.level >= 90.0
        return "high_level" in self.faults

    def alarms(self) -> set[str]:
        active = set()
        if self._tripped("dry_run"):
            active.add("dry_run")
        if self._tripped("over_current"):
            active.add("overload")
        if self.thermal_trip:
            active.add("motor_over_temperature")
        if self._tripped("low_pressure"):
            active.add("low_pressure")
        if self.high_level():
            active.add("high_level")
        if self.running and self.vibration() > VIB_ALARM:
            active.add("bearing_wear")
        return active

    def warnings(self) -> set[str]:
        active = set()
        if self.current() > RATED_CURRENT_A * 1.05:
            active.add("overload")
        if self.motor_temperature > TEMP_WARN_C:
            active.add("motor_over_temperature")
        if self.running and self.vibration() > VIB_WARN:
            active.add("bearing_wear")
        if self.sump and self.level >= 80.0:
            active.add("high_level")
        cut_in = self.pressure_setpoint - BAND_BAR
        if not self.sump and self.running and self.pressure < cut_in - 0.5:
            active.add("low_pressure")
        return active

    @staticmethod
    def _top(active: set[str]) -> str:
        for name in ALARM_PRIORITY:
            if name in active:
                return name
        return "none"

    # -- interface -------------------------------------------------------------------
    def _on_clear(self, name: str) -> None:
        if name == "bearing_wear":
            self.wear = 0.0  # the bearing is replaced

    def write(self, point: str, value: Value) -> None:
        if point == "remote_stop":
            self.remote_stop = bool(value)
            return
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ValueError(f"{point}: expected a number, got {value!r}")
        if point == "pressure_setpoint":
            self.pressure_setpoint = float(value)
        elif point == "start_level":
            if value < self.stop_level + 5.0:
                raise ValueError(
                    f"start_level {value} must be 5 % above stop_level {self.stop_level}"
                )
            self.start_level = float(value)
        elif point == "stop_level":
            if value > self.start_level - 5.0:
                raise ValueError(
                    f"stop_level {value} must be 5 % below start_level {self.start_level}"
                )
            self.stop_level = float(value)
        else:
            super().write(point, value)

    def values(self) -> dict[str, Value]:
        n = self.noise
        running = self.running
        alarms = self.alarms()
        slip = 15.0 if "dry_run" in self.faults else 60.0 * self.power / RATED_POWER_KW
        speed = RATED_SPEED - slip
        return {
            "run_state": "fault" if self.thermal_trip else "running" if running else "stopped",
            "speed": round(speed + n.gauss(0, 2.0)) if running else 0,
            "current": max(0.0, self.current() * (1 + n.gauss(0, 0.01))) if running else 0.0,
            "power": max(0.0, self.power * (1 + n.gauss(0, 0.01))) if running else 0.0,
            "discharge_pressure": max(0.0, self.pressure + n.gauss(0, 0.01)),
            "flow": max(0.0, self.flow + n.gauss(0, 0.05)) if running else 0.0,
            "motor_temperature": self.motor_temperature + n.gauss(0, 0.1),
            "vibration": max(0.0, self.vibration() * (1 + n.gauss(0, 0.03))),
            "sump_level": round(self.level, 1) if self.sump else None,
            "run_hours": self.run_hours,
            "starts": self.starts,
            "alarm_code": self._top(alarms),
            "warning_code": self._top(self.warnings()),
            "pressure_setpoint": self.pressure_setpoint,
            "start_level": self.start_level,
            "stop_level": self.stop_level,
            "remote_stop": self.remote_stop,
            "dry_run": "dry_run" in alarms,
            "low_pressure": "low_pressure" in alarms,
            "over_current": "overload" in alarms,
            "high_level": "high_level" in alarms,
            "leak": "leak" in self.faults,
        }

    def detail(self) -> dict[str, Any]:
        return {
            "role": "sump" if self.sump else "booster",
            "thermal_trip": self.thermal_trip,
            "added_vibration": round(self.wear, 3),
            "cut_in": None if self.sump else round(self.pressure_setpoint - BAND_BAR, 2),
        }
