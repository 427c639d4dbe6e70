"""A checklist step of a PM plan, and the reading some steps ask for.

    checklist:
      - Machine room, brake and traction machine      # a step: pass, fail or not applicable
      - step: Brake shoe clearance                    # a step with a reading
        reading: {unit: mm, min: 0.1, max: 0.7, follow_up: true}

A reading is a value in `unit` (any unit pint knows: mm, A, V, MΩ, bar, lx, …) with optional
limits, inclusive; a value outside them is flagged, and with `follow_up: true` it raises a
follow-up job. A value may be given in another unit of the same dimension (`500 µm` for a step
in mm); it is kept converted to the step's unit.
"""

from __future__ import annotations

import functools
import math
from typing import Annotated, Any

import pint
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from cloud.errors import InvalidInput
from cloud.locale import N_
from cloud.locale.composed import Composed, Label, compose

READING_BOUND = 1e12  # no reading of a building service comes near this, in any unit


@functools.cache
def units() -> pint.UnitRegistry[float]:
    """The unit registry (loading it takes most of a second: once per process)."""
    return pint.UnitRegistry()


def parse_unit(text: str) -> pint.Unit:
    """The unit `text` names, or ValueError saying it is not one."""
    try:
        return units().Unit(text)
    # pint's parser fails on malformed text with whatever its evaluation runs into
    except (pint.errors.PintError, ValueError, TypeError, AttributeError, AssertionError) as exc:
        raise ValueError(f"{text!r} is not a unit pint knows (e.g. mm, A, V, MΩ, bar)") from exc


class Reading(BaseModel):
    """What a step measures: its unit and the limits a good value lies within."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    unit: Annotated[str, StringConstraints(min_length=1, max_length=32, strip_whitespace=True)]
    min: float | None = Field(default=None, ge=-READING_BOUND, le=READING_BOUND)
    max: float | None = Field(default=None, ge=-READING_BOUND, le=READING_BOUND)
    follow_up: bool = Field(default=False, description="a value out of limits raises a job")

    @field_validator("unit")
    @classmethod
    def _known_unit(cls, value: str) -> str:
        parse_unit(value)
        return value

    @model_validator(mode="after")
    def _limits(self) -> Reading:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min:g}) is greater than max ({self.max:g})")
        if self.follow_up and self.min is None and self.max is None:
            raise ValueError("follow_up needs a limit (min or max) for a value to be out of")
        return self

    def in_unit(self, value: float, unit: str | None) -> float:
        """`value` in `unit` (the step's own when None) converted to the step's unit; a unit
        of another dimension or a value out of all bounds is InvalidInput."""
        if not math.isfinite(value) or abs(value) > READING_BOUND:
            raise InvalidInput(f"value: {value!r} is not a finite reading")
        if unit is None or unit.strip() == self.unit:
            return value
        try:
            given = parse_unit(unit.strip())
            converted = float(units().Quantity(value, given).to(self.unit).magnitude)
        except ValueError as exc:
            raise InvalidInput(f"unit: {exc}") from exc
        except pint.errors.DimensionalityError as exc:
            raise InvalidInput(
                f"unit: {unit!r} cannot be converted to the step's unit {self.unit!r}"
            ) from exc
        return converted

    def out_of_limits(self, value: float) -> bool:
        """Whether `value` (in the step's unit) lies outside the limits (which are inclusive)."""
        return (self.min is not None and value < self.min) or (
            self.max is not None and value > self.max
        )

    def limits(self) -> Composed:
        """The limits in words, for a reader of any language: `0.1 to 0.7 mm`, `≥ 0.5 MΩ`,
        `≤ 10 mm`, or the unit alone."""
        unit = Label(self.unit)
        if self.min is not None and self.max is not None:
            shape = N_("%(min)s to %(max)s %(unit)s")
            return compose(shape, min=self.min, max=self.max, unit=unit)
        if self.min is not None:
            return compose(N_("≥ %(min)s %(unit)s"), min=self.min, unit=unit)
        if self.max is not None:
            return compose(N_("≤ %(max)s %(unit)s"), max=self.max, unit=unit)
        return compose(N_("%(unit)s"), unit=unit)


def _step(value: Any) -> Any:
    return {"step": value} if isinstance(value, str) else value


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    step: Annotated[str, StringConstraints(min_length=1, max_length=200, strip_whitespace=True)]
    reading: Reading | None = None

    def entry(self) -> dict[str, Any]:
        """The step as a work order's checklist keeps it, not yet answered."""
        return {
            "item": self.step,
            "done": False,
            "by": None,
            "at": None,
            "reading": self.reading.model_dump() if self.reading is not None else None,
        }


PlanStep = Annotated[Step, BeforeValidator(_step)]
