"""Load the PM plans: the ones shipped in `cloud/pm/plans/`, then an extra folder's.

Every `*.yaml` in a folder is a plan file (`plans: [...]`, and optionally `defaults:` for the
plans of that file). A plan in the extra folder with the id of a shipped plan replaces it;
`enabled: false` switches it off. Errors name the file, the line, the plan and the field.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from cloud.pm.model import Defaults, EffectivePlan, PlanFile
from plantroom.errors import ConfigError
from plantroom.yamlload import describe_error, line_of, load_yaml

SHIPPED = Path(__file__).resolve().parent / "plans"


def _describe(
    path: Path, lines: dict[tuple[str | int, ...], int], data: object, exc: ValidationError
) -> str:
    """Pydantic's errors with the id of the plan each one is in."""
    text = describe_error(path, lines, exc)
    plans = data.get("plans") if isinstance(data, dict) else None
    if not isinstance(plans, list):
        return text
    out = []
    for line in text.splitlines():
        head, marker, rest = line.partition(": plans.")
        if marker:
            index = rest.split(".", 1)[0].split(":", 1)[0]
            if index.isdigit() and int(index) < len(plans):
                plan = plans[int(index)]
                plan_id = plan.get("id") if isinstance(plan, dict) else None
                if plan_id:
                    line = f"{head}: plan {plan_id!r}: plans.{rest}"
        out.append(line)
    return "\n".join(out)


def load_plan_file(path: Path) -> list[tuple[EffectivePlan, str]]:
    """The plans of one file with the file's defaults applied, each with where it is."""
    data, lines = load_yaml(path)
    if not isinstance(data, dict):
        raise ConfigError(f"{path}:1: a PM plan file is a mapping with a `plans:` list")
    try:
        parsed = PlanFile.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(path, lines, data, exc)) from exc
    defaults = parsed.defaults or Defaults()
    out = []
    for i, plan in enumerate(parsed.plans):
        line = line_of(lines, ("plans", i))
        out.append(
            (
                EffectivePlan(
                    plan=plan,
                    lead=plan.lead if plan.lead is not None else defaults.lead,
                    schedule_from=plan.schedule_from or defaults.schedule_from,
                    priority=plan.priority or defaults.priority,
                ),
                f"{path}:{line}" if line is not None else str(path),
            )
        )
    return out


def load_folder(folder: Path) -> dict[str, tuple[EffectivePlan, str]]:
    if not folder.is_dir():
        raise ConfigError(f"{folder}: PM plan folder does not exist or is not a folder")
    found: dict[str, tuple[EffectivePlan, str]] = {}
    for path in sorted(folder.glob("*.yaml")):
        for plan, where in load_plan_file(path):
            if plan.id in found:
                raise ConfigError(
                    f"{where}: plan {plan.id!r} is already defined at {found[plan.id][1]}"
                )
            found[plan.id] = (plan, where)
    return found


def load_plans(extra: Path | None = None, *, shipped: Path = SHIPPED) -> list[EffectivePlan]:
    """The enabled plans: shipped ones, overridden or extended by `extra`'s."""
    plans = load_folder(shipped)
    if extra is not None:
        plans.update(load_folder(extra))
    return [plan for plan, _ in plans.values() if plan.plan.enabled]
