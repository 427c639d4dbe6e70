"""The kinds of register-only assets: equipment maintained on a schedule and repaired on
request, but with no telemetry. Separate from the four telemetry kinds (`plantroom.kinds`),
which only the site inventory brings in.

A new kind is one line of `ASSET_KINDS` (a lower-case id of at most 16 characters, the trade
whose team maintains it, and the good-order indicator it counts in besides equipment in
good order); its PM plans are then plan files with `kind: <id>` (docs/pm.md).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from cloud.enums import TRADE_OF_KIND, Trade
from plantroom.kinds import KINDS

GoodOrder = Literal["fire", "lighting"]


@dataclass(frozen=True, slots=True)
class AssetKind:
    id: str
    title: str
    trade: Trade
    good_order: GoodOrder | None = None  # also counted in fire_good_pct / lighting_good_pct


# The equipment the service standards name that Plantroom does not monitor
# (docs/service-standards.md): stand-by power, water storage, ventilation, doors and the
# fire facilities checked by hand.
ASSET_KINDS: dict[str, AssetKind] = {
    k.id: k
    for k in (
        AssetKind("generator", "Diesel generator", Trade.ELECTRICAL),
        AssetKind("water_tank", "Water tank", Trade.PLUMBING),
        AssetKind("pump_manual", "Pump (not monitored)", Trade.PLUMBING),
        AssetKind("valve", "Valve", Trade.PLUMBING),
        AssetKind("fan", "Fan", Trade.ELECTRICAL),
        AssetKind("air_conditioner", "Air conditioner", Trade.ELECTRICAL),
        AssetKind("door", "Door", Trade.ELECTRICAL),
        AssetKind("emergency_light", "Emergency light", Trade.ELECTRICAL, "lighting"),
        AssetKind("extinguisher", "Fire extinguisher", Trade.FIRE, "fire"),
        AssetKind("hydrant", "Fire hydrant or hose reel", Trade.FIRE, "fire"),
        AssetKind("fire_door", "Fire door", Trade.FIRE, "fire"),
    )
}

_ID = re.compile(r"^[a-z][a-z0-9_]{0,15}\Z")
for _kind in ASSET_KINDS.values():  # the table is code: a bad line fails at import
    if not _ID.match(_kind.id) or _kind.id in KINDS:
        raise ValueError(f"asset kind {_kind.id!r}: 1-16 of a-z, 0-9, '_', not a telemetry kind")

# Telemetry kinds and register-only kinds: every kind a piece of equipment may have.
ALL_KINDS: tuple[str, ...] = (*KINDS, *ASSET_KINDS)


def is_asset_kind(kind: str) -> bool:
    return kind in ASSET_KINDS


def check_asset_kind(kind: str) -> AssetKind:
    """The register-only kind `kind`; ValueError naming the known ones."""
    found = ASSET_KINDS.get(kind)
    if found is not None:
        return found
    if kind in KINDS:
        raise ValueError(
            f"{kind!r} is a telemetry kind: such equipment comes from the site inventory"
        )
    raise ValueError(f"{kind!r} is not an asset kind (known: {', '.join(ASSET_KINDS)})")


def routing_kind(kind: str | None) -> str | None:
    """The telemetry kind whose team takes a job on equipment of `kind`: the kind itself, or
    for a register-only kind the telemetry kind of the same trade (a generator's job goes to
    the electrical team, as a lighting controller's does)."""
    if kind is None or kind in TRADE_OF_KIND:
        return kind
    asset = ASSET_KINDS.get(kind)
    if asset is None:
        return None
    return next((k for k, trade in TRADE_OF_KIND.items() if trade is asset.trade), None)


def good_order_kinds(group: GoodOrder) -> frozenset[str]:
    """Register-only kinds counted in the `group` good-order indicator."""
    return frozenset(k.id for k in ASSET_KINDS.values() if k.good_order == group)
