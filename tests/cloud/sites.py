"""Site inventories written in a test: a site of pumps, and the two sites north (Hong Kong)
and south (London) of a pump and a lift each, for the tests of who sees which site (their
pumps may share an id: an id is unique within its site only)."""

from __future__ import annotations

from pathlib import Path


def site_yaml(site: str, zone: str, building: str, *equipment: str) -> str:
    """Site `site` in time zone `zone` whose one building holds a pump of each id in
    `equipment`, units 1, 2, ... of one Modbus gateway."""
    items = "\n".join(
        f"      - {{id: {e}, kind: pump, profile: plantroom-sim-pump,"
        f" connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: {n + 1}}}}}"
        for n, e in enumerate(equipment)
    )
    return (
        f"site:\n  id: {site}\n  name: Site {site}\n  timezone: {zone}\n"
        f"buildings:\n  - id: {building}\n    equipment:\n{items}\n"
    )


def pump_and_lift(site: str, zone: str, building: str, pump: str, lift: str) -> str:
    """Site `site` in time zone `zone` whose one building holds a pump and a lift."""
    return f"""site: {{id: {site}, name: Site {site}, timezone: {zone}}}
buildings:
  - id: {building}
    equipment:
      - {{id: {pump}, kind: pump, profile: plantroom-sim-pump,
         connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 11}}}}
      - {{id: {lift}, kind: elevator, profile: plantroom-sim-elevator,
         connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: 1}}}}
"""


def north_and_south(tmp: Path, north_pump: str = "n-pump", south_pump: str = "s-pump") -> Path:
    """A folder of the two sites north and south, each of a pump and a lift."""
    folder = tmp / "sites"
    folder.mkdir()
    (folder / "north.yaml").write_text(
        pump_and_lift("north", "Asia/Hong_Kong", "n-tower", north_pump, "n-lift")
    )
    (folder / "south.yaml").write_text(
        pump_and_lift("south", "Europe/London", "s-tower", south_pump, "s-lift")
    )
    return folder
