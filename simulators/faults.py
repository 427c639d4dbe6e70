"""Fault descriptions: each fault's name, its signature and its parameters.

Each model declares the behavioural faults of its kind; the transport faults (a Modbus device
that stops answering or answers with exceptions, a lighting controller that goes quiet) are
handled where the device meets the network and are listed here once. `FaultTarget` is what
faults are injected into and cleared from: the simulation, for its control endpoint and its
scenarios.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from simulators.errors import InvalidFaultParams

ParamValue = int | float | bool


@dataclass(frozen=True, slots=True)
class ParamSpec:
    """One optional parameter of a fault. `default` None means the model chooses."""

    name: str
    type: type[int] | type[float] | type[bool]
    default: ParamValue | None
    description: str
    minimum: float | None = None
    maximum: float | None = None

    def check(self, fault: str, value: Any) -> ParamValue:
        where = f"fault {fault!r} parameter {self.name!r}"
        if self.type is bool:
            if not isinstance(value, bool):
                raise InvalidFaultParams(f"{where} must be true or false, got {value!r}")
            return bool(value)
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidFaultParams(f"{where} must be a number, got {value!r}")
        number: int | float
        if self.type is int:
            if not float(value).is_integer():
                raise InvalidFaultParams(f"{where} must be a whole number, got {value!r}")
            number = int(value)
        else:
            number = float(value)
        if (self.minimum is not None and number < self.minimum) or (
            self.maximum is not None and number > self.maximum
        ):
            raise InvalidFaultParams(
                f"{where} must be within {self.minimum:g}..{self.maximum:g}, got {value!r}"
                if self.minimum is not None and self.maximum is not None
                else f"{where} is out of range: {value!r}"
            )
        return number


@dataclass(frozen=True, slots=True)
class FaultSpec:
    """A fault a kind of equipment can be given, and what it looks like on the wire."""

    name: str
    signature: str
    params: tuple[ParamSpec, ...] = ()

    def validate(self, params: Mapping[str, Any] | None) -> dict[str, ParamValue | None]:
        """Check given parameters and fill in defaults; InvalidFaultParams names the problem."""
        given = dict(params or {})
        known = {p.name: p for p in self.params}
        unknown = sorted(set(given) - set(known))
        if unknown:
            valid = ", ".join(known) or "none"
            raise InvalidFaultParams(
                f"fault {self.name!r} has no parameter {', '.join(map(repr, unknown))}; "
                f"its parameters: {valid}"
            )
        out: dict[str, ParamValue | None] = {}
        for name, spec in known.items():
            out[name] = spec.check(self.name, given[name]) if name in given else spec.default
        return out


DELAY_S = ParamSpec("delay_s", float, 2.0, "seconds before each answer", 0.0, 60.0)
NO_RESPONSE = FaultSpec(
    "no_response",
    "the device stops answering: the gateway sends nothing back for its unit id, so reads "
    "time out while other units on the same port keep answering",
)
EXCEPTION = FaultSpec(
    "exception",
    "every request to the unit is answered with Modbus exception 0x04 (server device failure)",
)
GARBAGE = FaultSpec(
    "garbage",
    "the unit answers with malformed frames, in turn: a wrong transaction id (RTU: a bad CRC), "
    "a wrong length field (RTU: another unit id), random bytes; the connection stays open",
)
SLOW = FaultSpec(
    "slow",
    "the unit answers late: each of its answers waits `delay_s` real seconds, holding up the "
    "requests queued behind it on the same connection",
    (DELAY_S,),
)
OFFLINE = FaultSpec("offline", "the controller stops publishing on its topic")

MODBUS_TRANSPORT_FAULTS: tuple[FaultSpec, ...] = (NO_RESPONSE, EXCEPTION, GARBAGE, SLOW)
MQTT_TRANSPORT_FAULTS: tuple[FaultSpec, ...] = (OFFLINE,)

PORT_CLOSED = FaultSpec(
    "port_closed",
    "the gateway's Modbus TCP listening port closes and its open connections drop: clients "
    "get connection refused; clearing the fault opens the port again",
)
GATEWAY_SLOW = FaultSpec(
    "slow",
    "every answer through the gateway waits `delay_s` real seconds (a congested serial line "
    "behind it); requests on one connection stay in order",
    (DELAY_S,),
)
TCP_GATEWAY_FAULTS: tuple[FaultSpec, ...] = (PORT_CLOSED, GATEWAY_SLOW)
SERIAL_LINE_FAULTS: tuple[FaultSpec, ...] = (GATEWAY_SLOW,)


class FaultTarget(Protocol):
    """Injects and clears faults by equipment id or gateway id: `Simulation` in practice."""

    def inject(
        self, equipment: str, fault: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]: ...

    def clear(self, equipment: str, fault: str | None = None) -> dict[str, Any]: ...

    def inject_gateway(
        self, gateway: str, fault: str, params: Mapping[str, Any] | None = None
    ) -> dict[str, Any]: ...

    def clear_gateway(self, gateway: str, fault: str | None = None) -> dict[str, Any]: ...
