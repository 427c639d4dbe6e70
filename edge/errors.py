"""Errors of the edge agent. Library errors (pymodbus) and broker errors are translated into
these once. The broker being away is `plantroom.errors.BrokerUnavailable`, which the
gateway shares."""

from __future__ import annotations

from plantroom.errors import PlantroomError

EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class DeviceError(PlantroomError):
    """A read from a device failed. `reason` is short and stable enough to publish."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class DeviceTimeout(DeviceError):
    """The device (or the link to it) did not answer in time."""

    def __init__(self, detail: str = "") -> None:
        super().__init__("timeout", detail)


class DeviceUnreachable(DeviceError):
    """The connection to the device could not be made or was lost."""


class DeviceExceptionResponse(DeviceError):
    """The device answered with a Modbus exception response."""

    def __init__(self, code: int, detail: str = "") -> None:
        name = EXCEPTION_NAMES.get(code)
        reason = f"exception code {code}" + (f" ({name})" if name else "")
        super().__init__(reason, detail)
        self.code = code
