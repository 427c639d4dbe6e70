"""Errors the simulators raise on purpose, all under `plantroom.errors.PlantroomError`."""

from __future__ import annotations

from collections.abc import Iterable

from plantroom.errors import PlantroomError


class SimulatorError(PlantroomError):
    """Base of the simulators' own errors."""


class UnknownEquipment(SimulatorError):
    """No simulated device has this equipment id."""

    def __init__(self, equipment: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"no simulated equipment {equipment!r} (simulated: {names})")
        self.equipment = equipment


class UnknownBuilding(SimulatorError):
    """No building of the inventory has this id (or none of its equipment is simulated)."""

    def __init__(self, building: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"no simulated building {building!r} (buildings: {names})")
        self.building = building


class UnknownGateway(SimulatorError):
    """No simulated Modbus gateway (TCP address or serial line) has this id."""

    def __init__(self, gateway: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"no simulated gateway {gateway!r} (gateways: {names})")
        self.gateway = gateway


class UnknownFault(SimulatorError):
    """The fault name is not one the equipment's kind supports."""

    def __init__(self, equipment: str, kind: str, fault: str, valid: Iterable[str]) -> None:
        super().__init__(
            f"unknown fault {fault!r} for {kind} {equipment!r}; valid faults: {', '.join(valid)}"
        )
        self.equipment = equipment
        self.fault = fault


class InvalidFaultParams(SimulatorError):
    """A fault's parameters are missing, unknown or out of range."""


class ControlError(SimulatorError):
    """The simulator's control endpoint could not be reached or refused a request."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status
