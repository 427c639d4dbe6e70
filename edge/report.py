"""Report-by-exception, as a profile or point option (`report:` in the profile).

Without a `report` policy every polled value is published. With one, a point is published
when it is first seen, when its quality changes, when it moved by at least `deadband`
(absolute) or `deadband_percent` (of the last reported value), or when `heartbeat_s` passed
since it was last reported. Alarm and state points are published at once whenever they
change, deadband or not; a policy only stops their unchanged repeats.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from edge.decode import Value
from plantroom.profiles import ModbusProfile, MqttProfile, ReportPolicy, Role
from plantroom.schema import Quality


@dataclass(slots=True)
class _Last:
    value: Value
    quality: Quality | None
    at: float


def _moved(policy: ReportPolicy, last: Value, value: Value) -> bool:
    if (
        isinstance(value, bool)
        or isinstance(last, bool)
        or not isinstance(value, int | float)
        or not isinstance(last, int | float)
    ):
        return value != last
    delta = abs(value - last)
    if not policy.filters:
        return delta != 0
    if policy.deadband is not None and delta >= policy.deadband:
        return True
    return (
        policy.deadband_percent is not None
        and delta > 0
        and delta >= abs(last) * policy.deadband_percent / 100
    )


class ReportFilter:
    """Decides, per point, which polled values of one piece of equipment are published."""

    def __init__(self, profile: ModbusProfile | MqttProfile) -> None:
        self._policy: dict[str, ReportPolicy | None] = {}
        self._role: dict[str, Role] = {}
        for point in profile.all_points():
            self._policy[point.name] = profile.report_policy(point)
            self._role[point.name] = point.role
        self._last: dict[str, _Last] = {}
        self._active = any(p is not None for p in self._policy.values())

    @property
    def active(self) -> bool:
        """The profile has a report policy for at least one point."""
        return self._active

    def select(
        self, values: Mapping[str, Value], quality: Mapping[str, Quality], now: float
    ) -> tuple[dict[str, Value], dict[str, Quality]]:
        """The part of one poll to publish; remembers what it let through."""
        out_v: dict[str, Value] = {}
        out_q: dict[str, Quality] = {}
        for name, value in values.items():
            q = quality.get(name)
            policy = self._policy.get(name)
            last = self._last.get(name)
            if policy is None or last is None or last.quality != q:
                send = True
            elif self._role.get(name) in (Role.ALARM, Role.STATE):
                send = value != last.value
            else:
                send = _moved(policy, last.value, value)
            if not send and policy is not None and policy.heartbeat_s is not None and last:
                send = now - last.at >= policy.heartbeat_s
            if send:
                out_v[name] = value
                if q is not None:
                    out_q[name] = q
                self._last[name] = _Last(value, q, now)
        return out_v, out_q


_UNSEEN = object()


class ChangeTracker:
    """Tells whether a sample carries an alarm or state change (or the first such values).

    Such samples are the ones the disk buffer never drops to make room for measurements.
    """

    def __init__(self, roles: Mapping[str, Role]) -> None:
        self._watched = {name for name, role in roles.items() if role in (Role.ALARM, Role.STATE)}
        self._last: dict[str, object] = {}

    def changed(self, values: Mapping[str, Value]) -> bool:
        changed = False
        last = self._last
        for name in self._watched:  # a few alarm and state points among many measurements
            if name in values:
                value = values[name]
                if last.get(name, _UNSEEN) != value:
                    changed = True
                last[name] = value
        return changed
