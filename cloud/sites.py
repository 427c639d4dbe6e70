"""The sites one cloud service serves: the inventories it was given.

`PLANTROOM_INVENTORY` names one inventory file (one site, as always) or a folder of them
(`*.yaml`/`*.yml`, one site each, read in name order). Every site keeps its own time zone
(`Sites.zone_of`). An equipment id is unique within its site: two sites may each have a
`pump-a1` (the database keys equipment by site and id). Site ids and building ids are unique
across the sites of one service: the same one in two files is refused at start with a
ConfigError naming both files and lines.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cloud.equipment import key
from plantroom.errors import ConfigError
from plantroom.inventory import Building, Equipment, Inventory, load_inventory
from plantroom.yamlload import Loc, line_of, load_yaml

MAX_SITES = 1000  # inventory files one folder may hold
SUFFIXES = (".yaml", ".yml")


def inventory_files(path: Path) -> list[Path]:
    """The inventory files `path` names: itself, or the YAML files of a folder."""
    if not path.is_dir():
        return [path]
    files = sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file())
    if not files:
        raise ConfigError(f"{path}: a folder of inventories holds no *.yaml or *.yml file")
    if len(files) > MAX_SITES:
        raise ConfigError(f"{path}: {len(files)} inventory files, at most {MAX_SITES}")
    return files


def site_timezone(name: str) -> tzinfo:
    """An IANA time zone; ConfigError naming it when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"site timezone {name!r} is not a known IANA timezone") from exc


@dataclass(frozen=True, slots=True)
class Sites:
    """The served sites' inventories, in the order they were read (the first is the default
    site of what has no site of its own, e.g. a report without one)."""

    inventories: tuple[Inventory, ...]
    files: tuple[Path, ...] = ()
    _zones: dict[str, tzinfo] = field(default_factory=dict, repr=False)
    _by_building: dict[str, str] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if not self.inventories:
            raise ConfigError("no site inventory given")
        for inv in self.inventories:
            self._zones[inv.site.id] = site_timezone(inv.site.timezone)
            for b in inv.buildings:
                self._by_building[b.id] = inv.site.id

    @classmethod
    def load(cls, path: Path) -> Sites:
        """The inventories of `path` (a file or a folder); ConfigError naming file:line for a
        bad file, or for a site, building or equipment id that two files both use."""
        files = inventory_files(path)
        inventories = [load_inventory(f) for f in files]
        if len(files) > 1:
            _check_unique(files, inventories)
        return cls(tuple(inventories), tuple(files))

    @classmethod
    def of(cls, *inventories: Inventory) -> Sites:
        return cls(tuple(inventories))

    @property
    def served(self) -> tuple[str, ...]:
        """The ids of the served sites, in order."""
        return tuple(inv.site.id for inv in self.inventories)

    @property
    def first(self) -> Inventory:
        return self.inventories[0]

    def get(self, site: str) -> Inventory:
        for inv in self.inventories:
            if inv.site.id == site:
                return inv
        raise KeyError(site)

    def zone_of(self, site: str | None) -> tzinfo:
        """The site's time zone; the first site's for None or a site not served here."""
        found = self._zones.get(site or "")
        return found if found is not None else self._zones[self.first.site.id]

    def site_of(self, building: str) -> str | None:
        """The site of a building, None for a building of no served site."""
        return self._by_building.get(building)

    def by_building(self) -> dict[str, str]:
        """Building id → site id, for every served building."""
        return dict(self._by_building)

    def equipment_zones(self) -> dict[str, tzinfo]:
        """Equipment key (`cloud.equipment.key`) → its site's time zone, for the inventories'
        equipment."""
        return {key(inv.site.id, e.id): self._zones[inv.site.id] for inv, _, e in self.equipment()}

    def buildings(self, sites: Iterable[str] | None = None) -> set[str]:
        """The building ids of `sites` (all served sites when None)."""
        wanted = None if sites is None else set(sites)
        return {b for b, s in self._by_building.items() if wanted is None or s in wanted}

    def equipment(self) -> Iterator[tuple[Inventory, Building, Equipment]]:
        for inv in self.inventories:
            for building, item in inv.equipment():
                yield inv, building, item


def _ids(inv: Inventory) -> Iterator[tuple[str, str, Loc]]:
    """Every id of an inventory that must be unique across sites: (what, id, where in the file).
    Equipment ids need only be unique within their site."""
    yield "site", inv.site.id, ("site", "id")
    for i, building in enumerate(inv.buildings):
        yield "building", building.id, ("buildings", i, "id")


def _check_unique(files: list[Path], inventories: list[Inventory]) -> None:
    """Refuse an id two files use: sites and buildings (each file is checked for its own
    duplicates, equipment ids included, when it is loaded)."""
    first: dict[tuple[str, str], str] = {}
    problems: list[str] = []
    for path, inv in zip(files, inventories, strict=True):
        _, lines = load_yaml(path)
        for what, value, loc in _ids(inv):
            here = f"{path}:{line_of(lines, loc)}"
            seen = first.setdefault((what, value), here)
            if seen != here:
                problems.append(
                    f"{here}: {what} id {value!r} is also used at {seen}"
                    " (ids are unique across the sites of one service)"
                )
    if problems:
        raise ConfigError("\n".join(problems))
