"""Derived points, computed after each poll is decoded (`plantroom.profiles.derived`).

A derived point is computed in each poll (or vendor message) that holds all its sources. If
one of them is unavailable the derived point is unavailable too; if one is stale, so is it.
A source the poll did not read (a point of a poll class not due) leaves it out of the sample.
"""

from __future__ import annotations

from edge.decode import Value
from plantroom.profiles import Profile
from plantroom.profiles.derived import Derivation, compile_derived
from plantroom.schema import Quality


class DerivedValues:
    """The derived points of one profile, compiled once, applied to each decoded sample."""

    __slots__ = ("_derivations",)

    def __init__(self, profile: Profile) -> None:
        self._derivations: tuple[Derivation, ...] = compile_derived(profile)

    def __bool__(self) -> bool:
        return bool(self._derivations)

    def apply(self, values: dict[str, Value], quality: dict[str, Quality]) -> None:
        """Add the derived points to one sample's `values` and `quality`, in place."""
        unavailable, stale = Quality.UNAVAILABLE, Quality.STALE
        for derivation in self._derivations:
            worst: Quality | None = None
            for source in derivation.sources:
                if source not in values:
                    break
                if values[source] is None:
                    worst = unavailable
                elif worst is None and quality.get(source) is stale:
                    worst = stale
            else:
                name = derivation.name
                value = None if worst is unavailable else derivation.compute(values)
                values[name] = value
                if value is None:
                    quality[name] = unavailable
                elif worst is not None:
                    quality[name] = worst
