"""Addressable fire alarm control panel: 8 zones, BACnet life-safety states, standby battery.

Each zone is normal unless a fault puts it in alarm, pre-alarm, trouble (fault) or
supervisory, or it is isolated (disabled) by a fault or a write to its coil. An isolated
zone reports nothing else, as on a real panel. The panel state is the most urgent zone state,
and at least `fault` while the panel has trouble of its own (mains or battery). On mains the
charger holds the 24 V battery at float voltage; on battery the voltage falls slowly. A power
cut in the building is a mains failure to the panel: it runs on, and answers, on its battery.
"""

from __future__ import annotations

from typing import Any, ClassVar

from plantroom.kinds import Kind
from simulators.faults import FaultSpec, ParamSpec
from simulators.models.base import DeviceModel, FaultParams, ModelContext, first_order, ou_step
from simulators.registers import DataType, Point, RegisterMap, Table, Value

ZONES = 8
LIFE_SAFETY = {0: "normal", 1: "pre_alarm", 2: "alarm", 3: "fault", 4: "supervisory", 5: "disabled"}
# most urgent first; a zone or the panel shows the first state that applies
URGENCY = ("alarm", "pre_alarm", "supervisory", "fault", "disabled", "normal")
STATUS_BITS = ("mains_ok", "battery_ok", "fire_alarm", "trouble", "supervisory", "zone_disabled")
STATUS_MEANING = {
    "mains_ok": "mains supply present",
    "battery_ok": "battery at or above 23.0 V",
    "fire_alarm": "a zone is in alarm",
    "trouble": "a zone is in fault, the mains is lost or the battery is low",
    "supervisory": "a zone is supervisory",
    "zone_disabled": "a zone is isolated",
}
ZONE_FAULT_STATE = {
    "fire_alarm": "alarm",
    "pre_alarm": "pre_alarm",
    "detector_trouble": "fault",
    "supervisory": "supervisory",
    "zone_disabled": "disabled",
}
FLOAT_V = 27.3
ON_BATTERY_V = 25.6
FAILED_BATTERY_V = 21.8
EXHAUSTED_V = 20.0
DEFAULT_DRAIN_V_PER_H = 0.5
BATTERY_LOW_V = 23.0

_I, _C = Table.INPUT, Table.COIL
REGISTER_MAP = RegisterMap(
    "plantroom-sim-fire-panel",
    [
        Point(
            "panel_state",
            _I,
            0,
            DataType.ENUM,
            enum=LIFE_SAFETY,
            description="panel life-safety state (most urgent of zones and panel trouble)",
        ),
        *(
            Point(
                f"zone_{z}",
                _I,
                z,
                DataType.ENUM,
                enum=LIFE_SAFETY,
                description=f"zone {z} life-safety state",
            )
            for z in range(1, ZONES + 1)
        ),
        Point(
            "battery_voltage",
            _I,
            9,
            DataType.UINT16,
            scale=0.01,
            unit="V",
            description="standby battery voltage (24 V lead-acid)",
        ),
        Point("active_alarms", _I, 10, DataType.UINT16, unit="1", description="zones in alarm"),
        *(
            Point(name, _I, 11, DataType.BIT, bit=bit, description=STATUS_MEANING[name])
            for bit, name in enumerate(STATUS_BITS)
        ),
        *(
            Point(
                f"zone_{z}_isolate",
                _C,
                z - 1,
                DataType.BOOL,
                writable=True,
                description=f"1 isolates (disables) zone {z}",
            )
            for z in range(1, ZONES + 1)
        ),
    ],
)

_ZONE = ParamSpec("zone", int, 1, "zone number", 1, ZONES)


class FirePanelModel(DeviceModel):
    kind: ClassVar[Kind] = Kind.FIRE_PANEL
    register_map: ClassVar[RegisterMap | None] = REGISTER_MAP
    max_step: ClassVar[float] = 10.0
    battery_backed: ClassVar[bool] = True
    FAULTS: ClassVar[tuple[FaultSpec, ...]] = (
        FaultSpec(
            "fire_alarm",
            "a detector in the zone goes into alarm: zone and panel state "
            "alarm (2), fire_alarm bit, active_alarms counts it",
            (_ZONE,),
        ),
        FaultSpec(
            "pre_alarm",
            "a detector in the zone reports pre-alarm: zone and panel state pre_alarm (1)",
            (_ZONE,),
        ),
        FaultSpec(
            "detector_trouble",
            "a detector in the zone is faulty: zone state fault (3), "
            "trouble bit, panel state fault unless something more urgent",
            (_ZONE,),
        ),
        FaultSpec(
            "supervisory",
            "a supervised device in the zone (valve, pump) is off-normal: "
            "zone state supervisory (4), supervisory bit",
            (_ZONE,),
        ),
        FaultSpec(
            "mains_failure",
            f"the panel runs on its battery: mains_ok=0, trouble bit, panel state fault; "
            f"battery voltage drops to {ON_BATTERY_V} V and falls slowly, battery_ok=0 below "
            f"{BATTERY_LOW_V} V",
            (
                ParamSpec(
                    "rate",
                    float,
                    DEFAULT_DRAIN_V_PER_H,
                    "battery voltage fall in V per simulated hour",
                    0.0,
                    100.0,
                ),
            ),
        ),
        FaultSpec(
            "low_battery",
            f"the battery fails its test: voltage ~{FAILED_BATTERY_V} V, "
            "battery_ok=0, trouble bit, panel state fault",
        ),
        FaultSpec(
            "zone_disabled",
            "the zone is isolated: zone state disabled (5), "
            "zone_disabled bit; it reports nothing else until restored",
            (_ZONE,),
        ),
    )

    def __init__(self, ctx: ModelContext) -> None:
        super().__init__(ctx)
        self.battery_voltage = FLOAT_V + self.rng.uniform(-0.1, 0.1)
        self.isolated: set[int] = set()
        self.ripple = 0.0

    def mains_ok(self) -> bool:
        return self.powered and "mains_failure" not in self.faults

    def _drain_rate(self) -> float:
        params = self.faults.get("mains_failure")
        rate = params.get("rate") if params is not None else None
        return float(rate) if isinstance(rate, int | float) else DEFAULT_DRAIN_V_PER_H

    def _step(self, h: float) -> None:
        self.ripple = ou_step(self.ripple, 0.0, 0.02, 300.0, h, self.rng)
        if not self.mains_ok():
            fall = self._drain_rate() * h / 3600.0
            start = min(self.battery_voltage, ON_BATTERY_V)
            self.battery_voltage = max(EXHAUSTED_V, start - fall)
        else:
            self.battery_voltage = first_order(self.battery_voltage, FLOAT_V, h, 60.0)

    def measured_voltage(self) -> float:
        if "low_battery" in self.faults:
            return min(self.battery_voltage, FAILED_BATTERY_V)
        return self.battery_voltage + (self.ripple if self.mains_ok() else 0.0)

    def zone_state(self, zone: int) -> str:
        if zone in self.isolated:
            return "disabled"
        states = {
            ZONE_FAULT_STATE[name]
            for name, params in self.faults.items()
            if name in ZONE_FAULT_STATE and params.get("zone") == zone
        }
        if "disabled" in states:
            return "disabled"
        return next((s for s in URGENCY if s in states), "normal")

    def _on_inject(self, name: str, params: FaultParams) -> None:
        if name == "mains_failure":
            self.battery_voltage = min(self.battery_voltage, ON_BATTERY_V)

    def _on_power(self, on: bool) -> None:
        if not on:
            self.battery_voltage = min(self.battery_voltage, ON_BATTERY_V)

    def write(self, point: str, value: Value) -> None:
        for z in range(1, ZONES + 1):
            if point == f"zone_{z}_isolate":
                if value:
                    self.isolated.add(z)
                else:
                    self.isolated.discard(z)
                return
        super().write(point, value)

    def values(self) -> dict[str, Value]:
        zones = [self.zone_state(z) for z in range(1, ZONES + 1)]
        voltage = self.measured_voltage()
        battery_ok = voltage >= BATTERY_LOW_V
        trouble = "fault" in zones or not self.mains_ok() or not battery_ok
        panel = next(s for s in URGENCY if s in zones or s == "normal")
        if trouble and URGENCY.index(panel) > URGENCY.index("fault"):
            panel = "fault"
        out: dict[str, Value] = {"panel_state": panel}
        out.update({f"zone_{z}": state for z, state in enumerate(zones, start=1)})
        out.update(
            {
                "battery_voltage": round(voltage, 2),
                "active_alarms": zones.count("alarm"),
                "mains_ok": self.mains_ok(),
                "battery_ok": battery_ok,
                "fire_alarm": "alarm" in zones,
                "trouble": trouble,
                "supervisory": "supervisory" in zones,
                "zone_disabled": "disabled" in zones,
            }
        )
        out.update({f"zone_{z}_isolate": z in self.isolated for z in range(1, ZONES + 1)})
        return out

    def detail(self) -> dict[str, Any]:
        return {"isolated_zones": sorted(self.isolated)}
