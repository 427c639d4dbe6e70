"""The takeover case's sites and load: a folder of sites of pumps, each pump publishing a
sample every `PERIOD_S`, `dry_run` true while a fault injected into it lasts. Every site's
pumps have the same ids (`pump-00`, `pump-01`, ...), as a portfolio's sites often do: a pump
is `<site>/<id>` (`name`) in what the case counts."""

from __future__ import annotations

import asyncio
import json
import time

import aiomqtt

SITES = 3
PUMPS = 12  # in all, PUMPS // SITES at each site
PERIOD_S = 0.2  # each pump's sample period: PUMPS / PERIOD_S messages a second
FAULT_S = 3.0


def pumps(sites: list[str]) -> list[tuple[str, str]]:
    """(site, pump id) of every pump, the sites in turn: consecutive faults hit each site."""
    return [(site, f"pump-{n:02d}") for n in range(PUMPS // SITES) for site in sites]


def name(site: str, pump: str) -> str:
    """A pump as the case counts it: its site and its id."""
    return f"{site}/{pump}"


def inventory(sites: list[str], index: int) -> str:
    site = sites[index]
    lines = [f"site: {{id: {site}}}", "buildings:", f"  - id: {building(index)}", "    equipment:"]
    for unit, (_, pump) in enumerate((p for p in pumps(sites) if p[0] == site), start=1):
        lines.append(
            f"      - {{id: {pump}, kind: pump, profile: plantroom-sim-pump, floor: B1,"
            f" connection: {{type: modbus_tcp, host: 127.0.0.1, port: 5020, unit: {unit}}}}}"
        )
    return "\n".join(lines) + "\n"


def building(index: int) -> str:
    return f"tower-{index}"


class Load:
    """Every pump's samples, `dry_run` true while its fault lasts."""

    def __init__(self, sites: list[str]) -> None:
        self.sites = sites
        self.faulty: dict[str, float] = {}  # pump (`name`) → when (monotonic) its fault ends
        self.seq = 0
        self.published = 0

    def fault(self, pump: str) -> None:
        self.faulty[pump] = time.monotonic() + FAULT_S

    def active(self) -> bool:
        now = time.monotonic()
        return any(end > now for end in self.faulty.values())

    async def run(self, mqtt: aiomqtt.Client) -> None:
        while True:
            now = time.monotonic()
            self.seq += 1
            for site, pump in pumps(self.sites):
                dry = self.faulty.get(name(site, pump), 0.0) > now
                sample = {
                    "ts": int(time.time() * 1000),
                    "seq": self.seq,
                    "points": {"dry_run": dry, "speed": 0 if dry else 1450},
                }
                where = f"{site}/{building(self.sites.index(site))}"
                topic = f"plantroom/v1/{where}/pump/{pump}/telemetry"
                await mqtt.publish(topic, json.dumps(sample).encode(), qos=1, timeout=10)
                self.published += 1
            await asyncio.sleep(PERIOD_S)
