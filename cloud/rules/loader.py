"""Load the fault rules: the ones shipped in this package, then an extra folder's.

Every `*.yaml` in a folder is a rule file (`rules: [...]`, and at most one file per folder
with an `outage:` section). A rule in the extra folder with the id of a shipped rule replaces
it; `enabled: false` switches a rule off; an `outage:` section in the extra folder replaces
the shipped one. Errors name the file, the line, the rule and the field.

`RuleLibrary` remembers the files it loaded (path, size and modification time), so a running
service can see that they changed and load them again without a restart.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import ValidationError

from cloud.rules.model import OutagePolicy, Rule, RuleFile
from plantroom.errors import ConfigError
from plantroom.yamlload import describe_error, line_of, load_yaml

SHIPPED = Path(__file__).resolve().parent

Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True, slots=True)
class FolderRules:
    rules: dict[str, tuple[Rule, str]]  # id → rule, where it is defined
    outage: tuple[OutagePolicy, str] | None = None


@dataclass(frozen=True, slots=True)
class RuleSet:
    """The enabled rules and the outage policy, with where each came from."""

    rules: list[Rule]
    outage: OutagePolicy
    sources: dict[str, str] = field(default_factory=dict)  # rule id → file:line

    def by_id(self) -> dict[str, Rule]:
        return {rule.id: rule for rule in self.rules}


def _parse_rule_file(path: Path) -> tuple[RuleFile, dict[tuple[str | int, ...], int]]:
    data, lines = load_yaml(path)
    if data is None:
        return RuleFile(), lines
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: a rule file is a mapping with a `rules:` list")
    try:
        return RuleFile.model_validate(data), lines
    except ValidationError as exc:
        raise ConfigError(_describe(path, lines, data, exc)) from exc


def load_rule_file(path: Path) -> list[tuple[Rule, int | None]]:
    """The rules of one file, each with its line."""
    parsed, lines = _parse_rule_file(path)
    return [(rule, line_of(lines, ("rules", i))) for i, rule in enumerate(parsed.rules)]


def _describe(
    path: Path, lines: dict[tuple[str | int, ...], int], data: object, exc: ValidationError
) -> str:
    """Pydantic's errors with the id of the rule each one is in."""
    text = describe_error(path, lines, exc)
    rules = data.get("rules") if isinstance(data, dict) else None
    if not isinstance(rules, list):
        return text
    out = []
    for line in text.splitlines():
        marker = ": rules."
        if marker in line:
            head, _, rest = line.partition(marker)
            index = rest.split(".", 1)[0].split(":", 1)[0]
            if index.isdigit() and int(index) < len(rules):
                rule = rules[int(index)]
                rule_id = rule.get("id") if isinstance(rule, dict) else None
                if rule_id:
                    line = f"{head}: rule {rule_id!r}: rules.{rest}"
        out.append(line)
    return "\n".join(out)


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("*.yaml") if p.is_file())


def read_folder(folder: Path) -> FolderRules:
    """Rules by id from every `*.yaml` in `folder`, and its outage policy if one file has it."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: rule folder does not exist or is not a folder")
    found: dict[str, tuple[Rule, str]] = {}
    outage: tuple[OutagePolicy, str] | None = None
    for path in _files(folder):
        parsed, lines = _parse_rule_file(path)
        for i, rule in enumerate(parsed.rules):
            line = line_of(lines, ("rules", i))
            where = f"{path}:{line}" if line is not None else str(path)
            if rule.id in found:
                raise ConfigError(
                    f"{where}: rule {rule.id!r} is already defined at {found[rule.id][1]}"
                )
            found[rule.id] = (rule, where)
        if parsed.outage is not None:
            line = line_of(lines, ("outage",))
            where = f"{path}:{line}" if line is not None else str(path)
            if outage is not None:
                raise ConfigError(f"{where}: outage: already given at {outage[1]}")
            outage = (parsed.outage, where)
    return FolderRules(found, outage)


def load_folder(folder: Path) -> dict[str, tuple[Rule, str]]:
    """Rules by id from every `*.yaml` in `folder`, each with where it was defined."""
    return dict(read_folder(folder).rules)


def load_rule_set(extra: Path | None = None, *, shipped: Path = SHIPPED) -> RuleSet:
    """The enabled rules and the outage policy: shipped ones, overridden by `extra`'s."""
    base = read_folder(shipped)
    rules = dict(base.rules)
    outage = base.outage
    if extra is not None:
        more = read_folder(extra)
        rules.update(more.rules)
        outage = more.outage or outage
    enabled = {rule_id: entry for rule_id, entry in rules.items() if entry[0].enabled}
    return RuleSet(
        rules=[rule for rule, _ in enabled.values()],
        outage=outage[0] if outage is not None else OutagePolicy(),
        sources={rule_id: where for rule_id, (_, where) in enabled.items()},
    )


def load_rules(extra: Path | None = None) -> list[Rule]:
    """The enabled rules: shipped ones, overridden or extended by `extra`'s."""
    return load_rule_set(extra).rules


class RuleLibrary:
    """The rule folders of one service, and whether their files changed since last read."""

    def __init__(self, extra: Path | None = None, *, shipped: Path = SHIPPED) -> None:
        self.shipped = shipped
        self.extra = extra
        self.loaded: Fingerprint | None = None

    def folders(self) -> list[Path]:
        return [self.shipped] if self.extra is None else [self.shipped, self.extra]

    def fingerprint(self) -> Fingerprint:
        """Path, size and modification time of every rule file (a missing folder: none)."""
        out: list[tuple[str, int, int]] = []
        for folder in self.folders():
            if not folder.is_dir():
                out.append((str(folder), -1, -1))
                continue
            for path in _files(folder):
                try:
                    st = path.stat()
                except OSError:
                    continue
                out.append((str(path), st.st_size, st.st_mtime_ns))
        return tuple(out)

    def changed(self) -> bool:
        return self.fingerprint() != self.loaded

    def load(self) -> RuleSet:
        """Read and validate every file; ConfigError names file, line, rule and field."""
        seen = self.fingerprint()
        rule_set = load_rule_set(self.extra, shipped=self.shipped)
        self.loaded = seen
        return rule_set

    def mark_seen(self) -> None:
        """Take the files as they are now as read (after a failed load, so that the same
        broken files are reported once, not on every check)."""
        self.loaded = self.fingerprint()
