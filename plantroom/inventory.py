"""The site inventory: site → building → equipment, loaded from one YAML file.

Validated once at load; errors name the file, the line and the field.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from plantroom.errors import ConfigError
from plantroom.kinds import Kind
from plantroom.topics import EquipmentTopic, check_segment
from plantroom.yamlload import Loc, describe_error, line_of, load_yaml

Ident = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ModbusTcp(_Strict):
    type: Literal["modbus_tcp"]
    host: str
    port: int = Field(default=502, ge=1, le=65535)
    unit: int = Field(default=1, ge=0, le=255)


class ModbusRtuOverTcp(_Strict):
    """A serial-to-Ethernet gateway that passes RTU frames (with CRC) over TCP."""

    type: Literal["modbus_rtu_over_tcp"]
    host: str
    port: int = Field(ge=1, le=65535)
    unit: int = Field(default=1, ge=1, le=247)


class ModbusRtu(_Strict):
    type: Literal["modbus_rtu"]
    device: str = Field(description="serial device, e.g. /dev/ttyUSB0")
    baudrate: int = Field(default=9600, gt=0)
    parity: Literal["N", "E", "O"] = "N"
    stopbits: Literal[1, 2] = 1
    bytesize: Literal[7, 8] = 8
    unit: int = Field(default=1, ge=1, le=247)


class Mqtt(_Strict):
    """Equipment that publishes JSON on its own (vendor) topic."""

    type: Literal["mqtt"]
    topic: str = Field(min_length=1)

    @field_validator("topic")
    @classmethod
    def _no_wildcards(cls, topic: str) -> str:
        if "#" in topic or "+" in topic:
            raise ValueError("an equipment's vendor topic may not contain MQTT wildcards")
        return topic


Connection = Annotated[ModbusTcp | ModbusRtuOverTcp | ModbusRtu | Mqtt, Field(discriminator="type")]


class Equipment(_Strict):
    id: Ident
    kind: Kind
    profile: Ident = Field(
        description="device profile name: <name>.yaml among the shipped or the site's profiles"
    )
    connection: Connection
    floor: str | None = None
    zone: str | None = None
    name: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)


class Building(_Strict):
    id: Ident
    name: str | None = None
    floors: int | None = Field(default=None, ge=1)
    equipment: list[Equipment] = Field(default_factory=list)


class Site(_Strict):
    id: Ident
    name: str | None = None
    timezone: str = "UTC"


class Inventory(_Strict):
    site: Site
    buildings: list[Building] = Field(min_length=1)

    @model_validator(mode="after")
    def _unique(self) -> Inventory:
        seen_b: set[str] = set()
        seen_e: set[str] = set()
        for b in self.buildings:
            check_segment(b.id, "building id")
            if b.id == "edge":
                raise ValueError("building id 'edge' is reserved for edge agent status topics")
            if b.id in seen_b:
                raise ValueError(f"building id {b.id!r} is used twice")
            seen_b.add(b.id)
            for e in b.equipment:
                if e.id in seen_e:
                    raise ValueError(
                        f"equipment id {e.id!r} is used twice in site {self.site.id!r}"
                    )
                seen_e.add(e.id)
        return self

    def equipment(self, buildings: set[str] | None = None) -> Iterator[tuple[Building, Equipment]]:
        for b in self.buildings:
            if buildings and b.id not in buildings:
                continue
            for e in b.equipment:
                yield b, e

    def find(self, equipment_id: str) -> tuple[Building, Equipment]:
        for b, e in self.equipment():
            if e.id == equipment_id:
                return b, e
        raise KeyError(equipment_id)

    def topic(self, building: Building, equipment: Equipment) -> EquipmentTopic:
        return EquipmentTopic(self.site.id, building.id, equipment.kind.value, equipment.id)


def load_inventory(path: str | Path) -> Inventory:
    """Load and validate a site inventory; ConfigError names file, line and field."""
    path = Path(path)
    data, lines = load_yaml(path)
    duplicates = _duplicate_ids(data, lines)
    if duplicates:
        raise ConfigError("\n".join(f"{path}:{d}" for d in duplicates))
    try:
        return Inventory.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe_error(path, lines, exc)) from exc


def _duplicate_ids(data: Any, lines: dict[Loc, int]) -> list[str]:
    """`line: field: …` for every building or equipment id used a second time, each at its
    own line (the model's own check can only name the file)."""
    out: list[str] = []
    buildings = data.get("buildings") if isinstance(data, dict) else None
    if not isinstance(buildings, list):
        return out
    first: dict[tuple[str, str], Loc] = {}

    def note(what: str, value: Any, loc: Loc) -> None:
        if not isinstance(value, str):
            return
        seen = first.setdefault((what, value), loc)
        if seen != loc:
            field = ".".join(str(p) for p in loc)
            out.append(
                f"{line_of(lines, loc)}: {field}: {what} id {value!r} is used twice "
                f"(first at line {line_of(lines, seen)})"
            )

    for i, building in enumerate(buildings):
        if not isinstance(building, dict):
            continue
        note("building", building.get("id"), ("buildings", i, "id"))
        equipment = building.get("equipment")
        for j, item in enumerate(equipment if isinstance(equipment, list) else []):
            if isinstance(item, dict):
                note("equipment", item.get("id"), ("buildings", i, "equipment", j, "id"))
    return out
