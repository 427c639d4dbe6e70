"""Errors the simulators raise on purpose, all under `plantroom.errors.PlantroomError`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from plantroom.errors import PlantroomError


class SimulatorError(PlantroomError):
    """Base of the simulators' own errors."""


class NotSimulated(SimulatorError):
    """An id that names nothing simulated; the message lists the ids that are."""

    what: ClassVar[str]
    listed: ClassVar[str]

    def __init__(self, name: str, known: Iterable[str]) -> None:
        names = ", ".join(sorted(known)) or "none"
        super().__init__(f"no simulated {self.what} {name!r} ({self.listed}: {names})")
        self.name = name


class UnknownEquipment(NotSimulated):
    """No simulated device has this equipment id."""

    what, listed = "equipment", "simulated"


class UnknownBuilding(NotSimulated):
    """No building of the inventory has this id (or none of its equipment is simulated)."""

    what, listed = "building", "buildings"


class UnknownGateway(NotSimulated):
    """No simulated Modbus gateway (TCP address or serial line) has this id."""

    what, listed = "gateway", "gateways"


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
