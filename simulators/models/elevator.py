"""Traction elevator: a car answering random calls, door cycles, drive heat, counters, faults.

The car serves one call at a time: it runs to the caller's floor, opens its doors, takes the
passengers on board, runs to their destination and lets them off. Calls arrive as a Poisson
process whose rate follows the day (morning, lunch and evening peaks, quiet nights) in the
site's timezone. The drive warms while the car runs, more with a heavier load, and cools
while it stands.

When the supply fails the car stops where it is: a car running between floors stays there
with its passengers trapped. When the supply returns the controller boots, then makes a
correction run to the nearest landing and opens its doors.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Any, ClassVar

from plantroom.kinds import Kind
from simulators.faults import FaultSpec
from simulators.models import elevator_spec as spec
from simulators.models.base import DeviceModel, FaultParams, ModelContext, first_order
from simulators.models.elevator_registers import REGISTER_MAP
from simulators.models.elevator_spec import FAULTS, Call, Phase, traffic_factor
from simulators.registers import RegisterMap, Value


class ElevatorModel(DeviceModel):
    kind: ClassVar[Kind] = Kind.ELEVATOR
    register_map: ClassVar[RegisterMap | None] = REGISTER_MAP
    FAULTS: ClassVar[tuple[FaultSpec, ...]] = FAULTS

    def __init__(self, ctx: ModelContext) -> None:
        super().__init__(ctx)
        floors = ctx.floors or 10
        if floors < 2:
            raise ValueError(f"elevator {ctx.equipment_id!r} needs at least 2 floors")
        self.top = floors - 1
        self.floor = 0
        self.target = 0
        self.direction = "idle"
        self.phase = Phase.IDLE
        self.phase_left = math.inf
        self.load = 0
        self.trips = self.rng.randrange(20_000, 400_000)
        self.door_cycles = int(self.trips * self.rng.uniform(1.02, 1.15))
        self.run_hours = self.trips * self.rng.uniform(18.0, 26.0) / 3600.0
        self.drive_temperature = spec.AMBIENT_C + self.rng.uniform(0.0, 3.0)
        self.queue: deque[Call] = deque()
        self.job: Call | None = None
        self.job_picked = False
        self.next_call_at = self.now + self._interarrival()
        self.out_of_service_command = False
        self.safety_ok = True
        self.drive_tripped = False
        self.door_fault: str | None = None
        self.halted_door = "closed"
        self.calls_dropped = 0
        self.stopped_by_power = False  # stranded between floors by a power cut

    # -- traffic ---------------------------------------------------------------------
    def _interarrival(self) -> float:
        return self.rng.expovariate(traffic_factor(self.local_hours()) / spec.MEAN_CALL_INTERVAL_S)

    def _new_call(self) -> None:
        h = self.local_hours()
        r = self.rng.random()
        if 7.5 <= h < 9.5 and r < 0.6:
            origin, dest = 0, self.rng.randint(1, self.top)
        elif 17.5 <= h < 19.5 and r < 0.6:
            origin, dest = self.rng.randint(1, self.top), 0
        else:
            origin = self.rng.randint(0, self.top)
            dest = self.rng.randint(0, self.top - 1)
            if dest >= origin:
                dest += 1
        people = 1 + math.floor(min(self.rng.expovariate(0.7), 6.0))
        kg = sum(self.rng.randint(55, 95) for _ in range(people))
        if not self._accepting_calls() or len(self.queue) >= spec.MAX_WAITING_CALLS:
            self.calls_dropped += 1  # answered by another car of the group
            return
        self.queue.append(Call(origin, dest, kg))

    def _accepting_calls(self) -> bool:
        return (
            self.powered
            and self.safety_ok
            and not self.drive_tripped
            and not self.out_of_service_command
            and self.phase not in (Phase.DOOR_FAULT, Phase.STOPPED, Phase.HALTED)
        )

    # -- time ------------------------------------------------------------------------
    def _time_to_event(self) -> float:
        phase_left = self.phase_left if self.powered else math.inf
        return min(phase_left, self.next_call_at - self.now)

    def _step(self, h: float) -> None:
        moving = self.powered and self.phase in (Phase.MOVING, Phase.RELEVELING)
        if "drive_over_temperature" in self.faults:
            target, tau = spec.FAN_FAILED_TARGET_C, 150.0
        elif moving:
            target, tau = spec.AMBIENT_C + 12.0 + 18.0 * self.load / spec.RATED_LOAD_KG, 240.0
        else:
            target, tau = spec.AMBIENT_C, 900.0
        self.drive_temperature = first_order(self.drive_temperature, target, h, tau)
        if moving:
            self.run_hours += h / 3600.0
        while self.now >= self.next_call_at - 1e-9:
            self._new_call()
            self.next_call_at += self._interarrival()
        if not self.powered:
            return  # everything stands still until the supply returns
        self.phase_left -= h
        self._check_drive()
        for _ in range(8):
            if self.phase_left > 1e-9:
                break
            self._phase_done()
        if self.phase is Phase.IDLE:
            self._dispatch()

    def _check_drive(self) -> None:
        if not self.drive_tripped and self.drive_temperature >= spec.TRIP_C:
            self.drive_tripped = True
            self._drop_calls()
            if self.phase is Phase.MOVING:
                step = 1 if self.direction == "up" else -1
                self.target = self.floor + step  # park at the next landing
        elif self.drive_tripped and self.drive_temperature < spec.RESET_C:
            self.drive_tripped = False

    def _drop_calls(self) -> None:
        self.calls_dropped += len(self.queue) + (1 if self.job else 0)
        self.queue.clear()
        self.job = None

    def _set(self, phase: Phase, duration: float = math.inf) -> None:
        self.phase = phase
        self.phase_left = duration

    def _dispatch(self) -> None:
        if not self._accepting_calls() and self.job is None:
            return
        if self.drive_tripped or not self.safety_ok:
            return
        if self.job is None:
            if not self.queue or self.out_of_service_command:
                return
            self.job = self.queue.popleft()
            self.job_picked = False
        target = self.job.destination if self.job_picked else self.job.origin
        if target == self.floor:
            self._open_doors()
        else:
            self._start_run(target)

    def _start_run(self, target: int) -> None:
        self.target = target
        self.direction = "up" if target > self.floor else "down"
        last = abs(target - self.floor) == 1
        self._set(Phase.MOVING, spec.FLOOR_TIME_S + spec.ACCEL_S + (spec.ACCEL_S if last else 0.0))

    def _phase_done(self) -> None:
        p = self.phase
        if p is Phase.MOVING:
            self.floor += 1 if self.direction == "up" else -1
            if self.floor == self.target:
                self._arrive()
            else:
                last = abs(self.target - self.floor) == 1
                self._set(Phase.MOVING, spec.FLOOR_TIME_S + (spec.ACCEL_S if last else 0.0))
        elif p is Phase.RELEVELING:
            self._open_doors()
        elif p is Phase.DOOR_OPENING:
            self._exchange_passengers()
            self._set(Phase.DOOR_OPEN, spec.DOOR_DWELL_S)
        elif p is Phase.DOOR_OPEN:
            self._close_doors()
        elif p is Phase.DOOR_CLOSING:
            self._set(Phase.IDLE)
        elif p is Phase.STOPPED and self.stopped_by_power and self._may_rescue():
            self.stopped_by_power = False
            self._set(Phase.RELEVELING, spec.CORRECTION_RUN_S)
        else:
            self.phase_left = math.inf

    def _arrive(self) -> None:
        self.trips += 1
        self.direction = "idle"
        if "leveling_error" in self.faults:
            self._set(Phase.RELEVELING, spec.RELEVEL_S)
        else:
            self._open_doors()

    def _open_doors(self) -> None:
        if "door_open_fault" in self.faults:
            self.door_fault = "door_open_fault"
            self._drop_calls()
            self._set(Phase.DOOR_FAULT)
            return
        self.door_cycles += 1
        self._set(Phase.DOOR_OPENING, spec.DOOR_OPENING_S)

    def _close_doors(self) -> None:
        if "door_close_fault" in self.faults:
            self.door_fault = "door_close_fault"
            self._drop_calls()
            self.load = 0  # the doors stay open: the passengers step out
            self._set(Phase.DOOR_FAULT)
            return
        self._set(Phase.DOOR_CLOSING, spec.DOOR_CLOSING_S)

    def _exchange_passengers(self) -> None:
        job = self.job
        if job is None:
            self.load = 0  # out of service or a landing call: everyone leaves
        elif not self.job_picked and self.floor == job.origin:
            self.load = min(spec.RATED_LOAD_KG, self.load + job.kg)
            self.job_picked = True
        elif self.job_picked and self.floor == job.destination:
            self.load = max(0, self.load - job.kg)
            self.job = None

    # -- faults ----------------------------------------------------------------------
    def _on_inject(self, name: str, params: FaultParams) -> None:
        if name in ("door_open_fault", "door_close_fault"):
            if self.phase is Phase.IDLE and self.job is None and self._accepting_calls():
                # someone presses the landing button at the car's own floor
                dest = self.floor + 1 if self.floor < self.top else self.floor - 1
                self.queue.appendleft(Call(self.floor, dest, spec.PASSENGER_KG))
                self._dispatch()
        elif name == "stopped_outside_landing_zone":
            passengers = params.get("passengers")
            if isinstance(passengers, int):
                self.load = passengers * spec.PASSENGER_KG
            elif self.load == 0:
                self.load = spec.PASSENGER_KG
            self._stop_between_floors()
        elif name == "safety_circuit_open":
            self.safety_ok = False
            if self.phase in (Phase.MOVING, Phase.RELEVELING):
                self._stop_between_floors()
            elif self.phase not in (Phase.STOPPED, Phase.DOOR_FAULT):
                opened = self.phase in (Phase.DOOR_OPENING, Phase.DOOR_OPEN, Phase.DOOR_CLOSING)
                self.halted_door = "open" if opened else "closed"
                self._drop_calls()
                self._set(Phase.HALTED)

    def _stop_between_floors(self) -> None:
        self._drop_calls()
        self.direction = "idle"
        self._set(Phase.STOPPED)

    def _may_rescue(self) -> bool:
        return self.powered and self.safety_ok and "stopped_outside_landing_zone" not in self.faults

    # -- power -----------------------------------------------------------------------
    def between_floors(self) -> bool:
        """The car is running (or creeping) between landings just now."""
        return self.phase in (Phase.MOVING, Phase.RELEVELING)

    def strand(self, passengers: int) -> None:
        """The car was caught between floors with `passengers` aboard (at least those aboard).

        Used when a power cut should find this car running: it stops at once.
        """
        if self.phase is Phase.STOPPED:
            return
        self.load = max(self.load, min(spec.RATED_LOAD_KG, passengers * spec.PASSENGER_KG))
        self._stop_between_floors()

    def _on_power(self, on: bool) -> None:
        if not on:
            if self.between_floors():
                self._stop_between_floors()
            if self.phase is Phase.STOPPED:
                self.stopped_by_power = True
                self.phase_left = math.inf
            else:
                self._drop_calls()
            return
        if self.phase is Phase.STOPPED and self.stopped_by_power:
            self.phase_left = spec.BOOT_S  # then the correction run, if nothing else holds the car

    def _on_clear(self, name: str) -> None:
        if name == "safety_circuit_open":
            self.safety_ok = True
        if self.phase is Phase.DOOR_FAULT and name == self.door_fault:
            self.door_fault = None
            if name == "door_open_fault":
                self.door_cycles += 1
                self._set(Phase.DOOR_OPENING, spec.DOOR_OPENING_S)
            else:
                self._set(Phase.DOOR_CLOSING, spec.DOOR_CLOSING_S)
        if self.phase is Phase.STOPPED and self._may_rescue():
            self.stopped_by_power = False
            self._set(Phase.RELEVELING, spec.RELEVEL_S)  # back into the landing zone, then doors
        if self.phase is Phase.HALTED and self.safety_ok:
            if self.halted_door == "open":
                self._set(Phase.DOOR_CLOSING, spec.DOOR_CLOSING_S)
            else:
                self._set(Phase.IDLE)

    def write(self, point: str, value: Value) -> None:
        if point != "out_of_service_command":
            super().write(point, value)
        self.out_of_service_command = bool(value)
        if self.out_of_service_command:
            self.calls_dropped += len(self.queue)
            self.queue.clear()

    # -- values ----------------------------------------------------------------------
    def door_state(self) -> str:
        return {
            Phase.DOOR_OPENING: "opening",
            Phase.DOOR_OPEN: "open",
            Phase.DOOR_CLOSING: "closing",
            Phase.DOOR_FAULT: "fault",
            Phase.HALTED: self.halted_door,
        }.get(self.phase, "closed")

    def at_landing(self) -> bool:
        return self.phase not in (Phase.MOVING, Phase.RELEVELING, Phase.STOPPED)

    def mode(self) -> str:
        if self.phase is Phase.STOPPED:
            return "stopped"
        if (
            not self.powered
            or not self.safety_ok
            or self.drive_tripped
            or self.phase in (Phase.DOOR_FAULT, Phase.HALTED)
            or (self.out_of_service_command and self.job is None)
        ):
            return "out_of_service"
        return "normal"

    def fault_code(self) -> str:
        if not self.safety_ok:
            return "safety_circuit_open"
        if self.phase is Phase.STOPPED:
            return "stopped_outside_landing_zone"
        if self.drive_tripped:
            return "drive_over_temperature"
        if self.phase is Phase.DOOR_FAULT and self.door_fault:
            return self.door_fault
        if "leveling_error" in self.faults:
            return "leveling_error"
        return "none"

    def passenger_trapped(self) -> bool:
        if self.load <= 0:
            return False
        return (
            self.phase is Phase.STOPPED
            or (self.phase is Phase.DOOR_FAULT and self.door_fault == "door_open_fault")
            or (self.phase is Phase.HALTED and self.halted_door == "closed")
        )

    def values(self) -> dict[str, Value]:
        temp = self.drive_temperature + self.noise.gauss(0.0, 0.05)
        return {
            "floor": self.floor,
            "direction": self.direction,
            "door_state": self.door_state(),
            "mode": self.mode(),
            "load": self.load,
            "drive_temperature": round(temp, 1),
            "trips": self.trips,
            "door_cycles": self.door_cycles,
            "run_hours": self.run_hours,
            "fault_code": self.fault_code(),
            "out_of_service_command": self.out_of_service_command,
            "at_landing": self.at_landing(),
            "safety_circuit_ok": self.safety_ok,
            "passenger_trapped": self.passenger_trapped(),
        }

    def detail(self) -> dict[str, Any]:
        return {
            "phase": self.phase.value,
            "target_floor": self.target,
            "top_floor": self.top,
            "waiting_calls": len(self.queue),
            "calls_dropped": self.calls_dropped,
            "drive_tripped": self.drive_tripped,
            "stopped_by_power": self.stopped_by_power,
        }
