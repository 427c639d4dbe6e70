"""`plantroom check`: the site check over everything a site is made of.

The contract checks (`plantroom.sitecheck`: the inventory and its profiles), the rule and PM
plan checks (`cloud.sitecheck`), the dashboards' points (`stack.check.dashboards`) and, with
`--probe`, one read of every device (`stack.check.probe`). docs/check.md lists every code.

Exit status: 0 clean, 1 warnings only, 2 errors (a probe that did not get an answer is an
error).
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from pathlib import Path

from cloud.sitecheck import cloud_findings
from plantroom.errors import ConfigError
from plantroom.settings import MqttSettings
from plantroom.sitecheck import Finding, config_findings, contract_findings, load_site
from stack.check.dashboards import dashboard_findings
from stack.check.probe import ProbeResult, probe_site

CLEAN, WARNINGS, ERRORS = 0, 1, 2
RULES_INVALID = "rules-invalid"


@dataclass(frozen=True, slots=True)
class ProbeOptions:
    timeout: float = 1.0
    deadline: float = 60.0
    mqtt: MqttSettings | None = None
    mqtt_wait: float = 10.0


@dataclass(slots=True)
class Report:
    findings: list[Finding] = field(default_factory=list)
    probe: list[ProbeResult] | None = None

    @property
    def all_findings(self) -> list[Finding]:
        failed = [r.finding() for r in self.probe or [] if not r.ok]
        return [*self.findings, *failed]

    @property
    def exit_code(self) -> int:
        """2 on an error; 0 otherwise, as the processes start with warnings logged."""
        return self.exit_status(strict=False)

    def exit_status(self, *, strict: bool) -> int:
        """2 on an error; with `strict`, 1 on warnings only; else 0."""
        severities = {f.severity for f in self.all_findings}
        if "error" in severities:
            return ERRORS
        return WARNINGS if severities and strict else CLEAN

    def counts(self) -> tuple[int, int]:
        found = self.all_findings
        errors = sum(f.severity == "error" for f in found)
        return errors, len(found) - errors

    def text(self) -> str:
        lines = [f.render() for f in self.findings]
        if self.probe is not None:
            lines.append(f"probe: {len(self.probe)} read(s)")
            lines += [f"  {'ok  ' if r.ok else 'FAIL'} {r.render()}" for r in self.probe]
        errors, warnings = self.counts()
        lines.append(f"{errors} error(s), {warnings} warning(s)")
        return "\n".join(lines)

    def json(self) -> str:
        errors, warnings = self.counts()
        doc = {
            "errors": errors,
            "warnings": warnings,
            "exit_code": self.exit_code,
            "findings": [f.as_json() for f in self.findings],
            "probe": None if self.probe is None else [r.as_json() for r in self.probe],
        }
        return json.dumps(doc, indent=2)


def run_check(
    inventory: Path,
    *,
    profiles_dir: Path | None = None,
    rules_dir: Path | None = None,
    pm_dir: Path | None = None,
    probe: ProbeOptions | None = None,
) -> Report:
    """Every check of the site at `inventory`; ConfigError for a bad rule or plan file."""
    site = load_site(inventory, profiles_dir)
    report = Report(contract_findings(site))
    if site.inventory is None:
        return report
    try:
        report.findings += cloud_findings(site, rules_dir, pm_dir)
    except ConfigError as exc:
        report.findings += config_findings(RULES_INVALID, exc, "rules")
    report.findings += dashboard_findings(site)
    if probe is not None:
        report.probe = asyncio.run(
            probe_site(
                site,
                request_timeout=probe.timeout,
                deadline=probe.deadline,
                mqtt=probe.mqtt,
                mqtt_wait=probe.mqtt_wait,
            )
        )
    return report
