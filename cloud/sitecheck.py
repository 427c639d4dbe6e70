"""The site check's cloud part: fault rules and PM plans that read points a site's profiles
do not provide (`plantroom.sitecheck` has the contract part and the `Finding` they share).

A point the equipment's profile does not provide (neither read nor derived) is absent, and
a condition on it is false (see `cloud.rules.absent`, which prunes the rules for the engine;
this check reasons on the same pruned rules):

- an `all` that reads such a point is never true; an `any` whose every part reads one is
  never true; an `any` with other parts is judged on those;
- a rule whose `when` or `condition` can never be true never fires (a warning: the
  equipment is not watched for that fault);
- a rule that can fire but whose `clear_when` can never be true never clears: its alarm and
  work order stay open for ever. That is an error for the site's own rules
  (PLANTROOM_RULES_DIR), which the site can fix, and a warning for the shipped ones, which a
  site fixes by providing the point or disabling the rule. A `condition` alone can always
  become false, so a rule without `clear_when` always clears.

A PM plan whose meter reads points the profile does not provide never falls due by use.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from cloud.pm.loader import SHIPPED as SHIPPED_PLANS
from cloud.pm.loader import load_folder as load_plan_folder
from cloud.pm.model import EffectivePlan
from cloud.rules.absent import Absent, prune, specialise
from cloud.rules.base import ConditionBase
from cloud.rules.loader import SHIPPED as SHIPPED_RULES
from cloud.rules.loader import load_rule_set, read_folder
from cloud.rules.model import Rule
from cloud.sites import inventory_files
from plantroom.settings import CloudSettings
from plantroom.sitecheck import (
    PROFILE_INVALID,
    Finding,
    Site,
    SiteEquipment,
    contract_findings,
    load_site,
)

log = logging.getLogger(__name__)

RULE_NEVER_FIRES = "rule-never-fires"
RULE_NEVER_CLEARS = "rule-never-clears"
PM_METER_MISSING = "pm-meter-missing"


def reach(condition: ConditionBase, provided: frozenset[str]) -> tuple[bool, bool]:
    """(can be true, can be false) of `condition` on equipment that has the points
    `provided`: a condition that prunes to absent is only ever false."""
    return (False, True) if isinstance(prune(condition, provided), Absent) else (True, True)


def rule_outcome(rule: Rule, provided: frozenset[str]) -> tuple[bool, bool]:
    """(can fire, can clear once fired) of `rule` as the engine judges it (`judge`)."""
    judged = specialise(rule, provided)
    watched = not isinstance(judged.when, Absent)
    fires = watched and not isinstance(judged.condition, Absent)
    clears = not isinstance(judged.clear_when, Absent)
    return fires, watched and clears


def _unread(*parts: ConditionBase | None) -> set[str]:
    """The points whose absence makes these pruned conditions false."""
    return {p for c in parts if isinstance(c, Absent) for p in c.missing}


def _points(names: Sequence[str]) -> str:
    return ("point " if len(names) == 1 else "points ") + ", ".join(names)


def _profile(entry: SiteEquipment) -> str:
    return entry.profile.name if entry.profile is not None else entry.equipment.profile


def rule_findings(
    site: Site, rules: Sequence[Rule], sources: dict[str, str], site_rules: frozenset[str]
) -> list[Finding]:
    """Per equipment: the rules that can never fire (one finding) and each rule that can
    fire but never clear. `sources` gives each rule's file:line;
    `site_rules` are the ids defined by the site's own rule folder."""
    out: list[Finding] = []
    for entry in site.equipment:
        if entry.profile is None:
            continue
        provided = entry.provided()
        never: list[Rule] = []
        unread: set[str] = set()
        for rule in rules:
            if rule.kind != entry.equipment.kind:
                continue
            fires, clears = rule_outcome(rule, provided)
            judged = specialise(rule, provided)
            if not fires:
                never.append(rule)
                unread |= _unread(judged.when, judged.condition)
            elif not clears:
                missing = sorted(_unread(judged.clear_when))
                out.append(
                    Finding(
                        "error" if rule.id in site_rules else "warning",
                        RULE_NEVER_CLEARS,
                        entry.where,
                        f"{entry.id}: rule {rule.id} can raise its alarm but never clear it "
                        f"({_points(missing)} not provided by profile {_profile(entry)}: its "
                        "clear_when can never be true)",
                        entry.id,
                        (sources.get(rule.id, ""),),
                    )
                )
        if never:
            ids = ", ".join(r.id for r in never)
            out.append(
                Finding(
                    "warning",
                    RULE_NEVER_FIRES,
                    entry.where,
                    f"{entry.id}: {'rule' if len(never) == 1 else 'rules'} {ids} can never "
                    f"fire ({_points(sorted(unread))} not provided by profile "
                    f"{_profile(entry)})",
                    entry.id,
                    tuple(sources.get(r.id, "") for r in never),
                )
            )
    return out


def pm_findings(site: Site, plans: Sequence[tuple[EffectivePlan, str]]) -> list[Finding]:
    """Per equipment: each PM plan that applies to it whose meter reads missing points."""
    out: list[Finding] = []
    for entry in site.equipment:
        if entry.profile is None:
            continue
        provided = entry.provided()
        for effective, where in plans:
            plan = effective.plan
            if plan.meter is None or not plan.applies(entry.equipment.kind, entry.equipment.tags):
                continue
            missing = [p for p in plan.meter.points if p not in provided]
            if not missing:
                continue
            if len(missing) == len(plan.meter.points):
                effect = "its meter never falls due"
            else:
                effect = "its meter counts only the other points"
            out.append(
                Finding(
                    "warning",
                    PM_METER_MISSING,
                    entry.where,
                    f"{entry.id}: PM plan {plan.id}: {effect} ({_points(missing)} not provided "
                    f"by profile {_profile(entry)})",
                    entry.id,
                    (where,),
                )
            )
    return out


def load_plans_with_sources(extra: Path | None) -> list[tuple[EffectivePlan, str]]:
    plans = load_plan_folder(SHIPPED_PLANS)
    if extra is not None:
        plans.update(load_plan_folder(extra))
    return [(plan, where) for plan, where in plans.values() if plan.plan.enabled]


def cloud_findings(
    site: Site, rules_dir: Path | None, pm_dir: Path | None, *, shipped_rules: Path = SHIPPED_RULES
) -> list[Finding]:
    """The rule and PM plan checks of a loaded site (ConfigError for a bad rule or plan
    file, as at the cloud's start)."""
    rule_set = load_rule_set(rules_dir, shipped=shipped_rules)
    site_rules = frozenset(read_folder(rules_dir).rules) if rules_dir is not None else frozenset()
    return [
        *rule_findings(site, rule_set.rules, rule_set.sources, site_rules),
        *pm_findings(site, load_plans_with_sources(pm_dir)),
    ]


def startup_findings(settings: CloudSettings) -> list[Finding]:
    """What the cloud checks at its start: the inventory's own checks, and its rules and PM
    plans against the profiles of the site (a profile the cloud cannot find leaves its
    equipment out, as the point check does)."""
    out: list[Finding] = []
    for path in inventory_files(settings.inventory):  # one file, or a folder's: each site
        site = load_site(path, settings.profiles_dir)
        out += [f for f in contract_findings(site) if f.code != PROFILE_INVALID]
        out += cloud_findings(site, settings.rules_dir, settings.pm_dir)
    return out
