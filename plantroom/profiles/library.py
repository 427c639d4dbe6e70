"""Finding profiles by name and matching them to the inventory's equipment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from plantroom.errors import ConfigError
from plantroom.inventory import Building, Equipment, Inventory
from plantroom.profiles.loader import SHIPPED_DIR, load_profile
from plantroom.profiles.schema import Profile
from plantroom.yamlload import Loc, line_of, load_yaml


@dataclass(frozen=True, slots=True)
class Assignment:
    """One piece of equipment the agent serves, with its validated profile."""

    building: Building
    equipment: Equipment
    profile: Profile
    profile_path: Path


class ProfileLibrary:
    """Finds profiles by name: an optional site folder first, then the shipped folder.

    A profile in the site folder with the name of a shipped one replaces it for that site.
    Each file is loaded and validated once.
    """

    def __init__(self, extra_dir: Path | None = None, shipped_dir: Path = SHIPPED_DIR) -> None:
        self.dirs: tuple[Path, ...] = (
            (Path(extra_dir), shipped_dir) if extra_dir is not None else (shipped_dir,)
        )
        if extra_dir is not None and not Path(extra_dir).is_dir():
            raise ConfigError(f"profile folder {extra_dir} does not exist or is not a folder")
        self._cache: dict[str, tuple[Profile, Path]] = {}

    def path_of(self, name: str) -> Path | None:
        for d in self.dirs:
            candidate = d / f"{name}.yaml"
            if candidate.is_file():
                return candidate
        return None

    def names(self) -> list[str]:
        found: set[str] = set()
        for d in self.dirs:
            found.update(p.stem for p in d.glob("*.yaml"))
        return sorted(found)

    def get(self, name: str) -> tuple[Profile, Path]:
        if name not in self._cache:
            path = self.path_of(name)
            if path is None:
                where = " or ".join(str(d) for d in self.dirs)
                raise ConfigError(f"no profile {name!r}: expected {name}.yaml in {where}")
            self._cache[name] = (load_profile(path), path)
        return self._cache[name]

    def assign(
        self,
        inventory: Inventory,
        buildings: Sequence[str] = (),
        inventory_path: Path | None = None,
    ) -> list[Assignment]:
        """Resolve each served piece of equipment to its profile and check they fit."""
        known = {b.id for b in inventory.buildings}
        unknown = [b for b in buildings if b not in known]
        if unknown:
            raise ConfigError(
                f"building(s) {', '.join(map(repr, unknown))} not in the inventory "
                f"(it has {', '.join(sorted(known))})"
            )
        lines: dict[Loc, int] = {}
        if inventory_path is not None and Path(inventory_path).is_file():
            _, lines = load_yaml(Path(inventory_path))
        where = str(inventory_path) if inventory_path is not None else "inventory"
        index = {
            e.id: (bi, ei)
            for bi, b in enumerate(inventory.buildings)
            for ei, e in enumerate(b.equipment)
        }
        out: list[Assignment] = []
        errors: list[str] = []
        for building, equipment in inventory.equipment(set(buildings) or None):
            bi, ei = index[equipment.id]
            loc: Loc = ("buildings", bi, "equipment", ei)
            line = line_of(lines, (*loc, "profile"))
            at = f"{where}:{line}" if line is not None else where
            who = f"equipment {equipment.id!r} (building {building.id!r})"
            try:
                profile, path = self.get(equipment.profile)
            except ConfigError as exc:
                errors.append(f"{at}: {who}: {exc}")
                continue
            if profile.kind != equipment.kind:
                errors.append(
                    f"{at}: {who} has kind {equipment.kind.value!r} but profile "
                    f"{profile.name!r} ({path}) is for kind {profile.kind.value!r}"
                )
            mqtt_connection = equipment.connection.type == "mqtt"
            if mqtt_connection != (profile.protocol == "mqtt"):
                errors.append(
                    f"{at}: {who} has a {equipment.connection.type} connection but profile "
                    f"{profile.name!r} ({path}) speaks {profile.protocol}"
                )
            out.append(Assignment(building, equipment, profile, path))
        if errors:
            raise ConfigError("\n".join(errors))
        return out
