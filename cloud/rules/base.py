"""What every condition of a fault rule is built on: the context it is evaluated in, its base
class, durations, and the reading of raw point values. The language itself is in
`cloud.rules.conditions`; conditions over a window of history in `cloud.rules.windowed`.
"""

from __future__ import annotations

import math
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, BeforeValidator, ConfigDict, StringConstraints

Scalar = bool | int | float | str | None
PointName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any) -> float:
    """Seconds from `90`, `90s`, `250ms`, `5m`, `1h30m`, `2d`. Negative durations are refused."""
    if isinstance(value, bool):
        raise ValueError("a duration is a number of seconds or a text like 30s, 5m, 1h")
    if isinstance(value, int | float):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().replace(" ", "")
        pos, seconds = 0, 0.0
        for match in _DURATION.finditer(text):
            if match.start() != pos:
                break
            seconds += float(match.group(1)) * _UNIT_SECONDS[match.group(2)]
            pos = match.end()
        if pos != len(text) or not text:
            raise ValueError(
                f"{value!r} is not a duration; write e.g. 30s, 5m, 1h30m, 2d or a number of seconds"
            )
    else:
        raise ValueError("a duration is a number of seconds or a text like 30s, 5m, 1h")
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"duration {value!r} must be zero or more")
    return seconds


Duration = Annotated[float, BeforeValidator(parse_duration)]


@dataclass(frozen=True, slots=True)
class Context:
    """What a condition may look at: one piece of equipment, now."""

    now: float
    values: Mapping[str, Scalar]
    last_seen: float | None
    status: str
    # point → (time, value) samples, oldest first; a value holds until the next sample
    history: Mapping[str, Sequence[tuple[float, float]]]
    timezone: tzinfo = UTC  # the site's, for time-of-day conditions


def as_number(value: Scalar) -> float | None:
    """A point value as a number; None for a boolean, a text or no value."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def as_flag(value: Scalar) -> bool | None:
    """A point value as a flag: a boolean, or 0 / 1; None for anything else."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    return None


class ConditionBase(BaseModel, ABC):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)
    tag: ClassVar[str]

    @abstractmethod
    def evaluate(self, ctx: Context, active: bool) -> bool | None:
        """True: the fault is there; False: it is not; None: cannot tell."""

    def points(self) -> frozenset[str]:
        """The points this condition reads."""
        point = getattr(self, "point", None)
        return frozenset({point}) if isinstance(point, str) else frozenset()

    def history_points(self) -> dict[str, float]:
        """Points whose history this condition needs, with the window it needs."""
        return {}

    def counter_points(self) -> frozenset[str]:
        """History points read as counters: a fall is a reset and must not be smoothed away."""
        return frozenset()

    def time_dependent(self) -> bool:
        """True if the result can change with time alone, without new telemetry."""
        return False

    def steady_until(self, ctx: Context) -> float:
        """A time before which the result cannot change with time alone, as judged in `ctx`
        (nothing new reported meanwhile): the engine's tick passes over a piece of equipment
        until then. `inf` for a condition time does not move; `ctx.now` (judge it at every
        tick) for one that does and cannot say when."""
        return ctx.now if self.time_dependent() else math.inf


def soonest(timed: Sequence[ConditionBase], ctx: Context) -> float:
    """The soonest `steady_until` of conditions time can move (`inf` for none): the others'
    is `inf`, so they are not asked (the engine asks after every sample that moves a rule)."""
    until = math.inf
    for condition in timed:
        if (its := condition.steady_until(ctx)) < until:
            until = its
    return until
