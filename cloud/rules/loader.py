"""Load the fault rules: the ones shipped in this package, then an extra folder's.

Every `*.yaml` in a folder is a rule file (`rules: [...]`). A rule in the extra folder with
the id of a shipped rule replaces it; `enabled: false` switches a rule off. Errors name the
file, the line, the rule and the field.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from cloud.rules.model import Rule, RuleFile
from plantroom.errors import ConfigError
from plantroom.yamlload import describe_error, line_of, load_yaml

SHIPPED = Path(__file__).resolve().parent


def load_rule_file(path: Path) -> list[tuple[Rule, int | None]]:
    """The rules of one file, each with its line."""
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: a rule file is a mapping with a `rules:` list")
    try:
        parsed = RuleFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, lines, data, exc)) from exc
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


def load_folder(folder: Path) -> dict[str, tuple[Rule, str]]:
    """Rules by id from every `*.yaml` in `folder`, each with where it was defined."""
    if not folder.is_dir():
        raise ConfigError(f"{folder}: rule folder does not exist or is not a folder")
    found: dict[str, tuple[Rule, str]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for rule, line in load_rule_file(path):
            where = f"{path}:{line}" if line is not None else str(path)
            if rule.id in found:
                raise ConfigError(
                    f"{where}: rule {rule.id!r} is already defined at {found[rule.id][1]}"
                )
            found[rule.id] = (rule, where)
    return found


def load_rules(extra: Path | None = None) -> list[Rule]:
    """The enabled rules: shipped ones, overridden or extended by `extra`'s."""
    rules = load_folder(SHIPPED)
    if extra is not None:
        rules.update(load_folder(extra))
    return [rule for rule, _ in rules.values() if rule.enabled]
