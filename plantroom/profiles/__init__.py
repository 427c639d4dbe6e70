"""Device profiles as data: one YAML file per model of equipment (see docs/profiles.md).

A profile is validated once, at load, into typed models (`schema`); every error names the
file, the line, the point and the field, so an integrator can fix a profile without reading
code (`checks`, `loader`). Plantroom ships profiles of the equipment it knows
(`shipped_profiles()`, the files in `SHIPPED_DIR`); a site adds its own in a folder of its
own, and a `ProfileLibrary` finds a profile by the name the inventory gives it (`library`).

The edge agent, the dashboards and the cloud read profiles through this one loader.
"""

from __future__ import annotations

from plantroom.profiles.library import Assignment, ProfileLibrary
from plantroom.profiles.loader import SHIPPED_DIR, load_profile, shipped_profiles
from plantroom.profiles.schema import (
    FLOAT_TYPES,
    MAX_ADDRESS,
    MAX_BITS_PER_READ,
    MAX_REGISTERS_PER_READ,
    NUMERIC_TYPES,
    TYPE_REGISTERS,
    Derive,
    DerivedPoint,
    JsonType,
    ModbusOptions,
    ModbusPoint,
    ModbusProfile,
    MqttOptions,
    MqttPoint,
    MqttProfile,
    Order,
    Poll,
    Profile,
    ProfileName,
    RegisterType,
    ReportPolicy,
    Role,
    Table,
    parse_path,
)

__all__ = [
    "FLOAT_TYPES",
    "MAX_ADDRESS",
    "MAX_BITS_PER_READ",
    "MAX_REGISTERS_PER_READ",
    "NUMERIC_TYPES",
    "SHIPPED_DIR",
    "TYPE_REGISTERS",
    "Assignment",
    "Derive",
    "DerivedPoint",
    "JsonType",
    "ModbusOptions",
    "ModbusPoint",
    "ModbusProfile",
    "MqttOptions",
    "MqttPoint",
    "MqttProfile",
    "Order",
    "Poll",
    "Profile",
    "ProfileLibrary",
    "ProfileName",
    "RegisterType",
    "ReportPolicy",
    "Role",
    "Table",
    "load_profile",
    "parse_path",
    "shipped_profiles",
]
