"""`plantroom check --probe`: ask each device once, the way the edge agent would.

Each Modbus device's points are planned into reads by the edge's own planner
(`edge.planner.plan_reads`, as the agent's first poll reads every poll class) and each read
goes once through the edge's `ModbusHub` (one connection per host:port or serial line). A
read answers, gets an exception response, times out or finds the device unreachable. When a
unit times out (or its gateway answers exception 10/11, "nobody answers to that unit"), a
small set of other unit ids on the same connection is asked for the same registers — the
other equipment's units there, and 1 (and 0 and 255 on Modbus TCP) — to tell a wrong unit id
from a dead device. MQTT equipment: whether a message arrives on its topic.

Bounded: `request_timeout` per request, `deadline` for the whole probe (reads not tried by then are
reported as such), at most `MAX_OTHER_UNITS` other unit ids per timed-out device.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any, Literal

import aiomqtt

from edge.errors import DeviceError, DeviceExceptionResponse, DeviceTimeout
from edge.modbus import HubKey, ModbusConnection, ModbusHub
from edge.planner import ReadBlock, plan_reads
from plantroom.inventory import ModbusRtu, ModbusTcp, Mqtt
from plantroom.profiles import ModbusProfile
from plantroom.settings import MqttSettings
from plantroom.sitecheck import Finding, Site, SiteEquipment
from plantroom.tls import mqtt_client_context

MAX_OTHER_UNITS = 8
NO_ONE_ANSWERS = (10, 11)  # gateway path unavailable, gateway target failed to respond

Outcome = Literal["answered", "exception", "timeout", "unreachable", "not-tried", "message"]


@dataclass(frozen=True, slots=True)
class ProbeResult:
    equipment: str
    where: str  # file:line of the inventory entry
    target: str  # `10.0.0.5:502 unit 7`, or the MQTT topic
    read: str  # `input 0..15 (16 registers)`, or `topic`
    outcome: Outcome
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome in ("answered", "message")

    def render(self) -> str:
        text = f"{self.equipment} {self.target} {self.read}: {self.outcome}"
        return text + (f" ({self.detail})" if self.detail else "")

    def finding(self) -> Finding:
        return Finding("error", f"probe-{self.outcome}", self.where, self.render(), self.equipment)

    def as_json(self) -> dict[str, Any]:
        return {
            "equipment": self.equipment,
            "where": self.where,
            "target": self.target,
            "read": self.read,
            "outcome": self.outcome,
            "detail": self.detail,
        }


def _describe(block: ReadBlock) -> str:
    what = "bits" if block.table.is_bits else "registers"
    last = block.address + block.count - 1
    span = f"{block.address}" if block.count == 1 else f"{block.address}..{last}"
    return f"{block.table.value} {span} ({block.count} {what})"


def _link(conn: ModbusConnection) -> str:
    return conn.device if isinstance(conn, ModbusRtu) else f"{conn.host}:{conn.port}"


def other_units(conn: ModbusConnection, on_link: dict[int, str]) -> list[int]:
    """The unit ids to try when `conn.unit` does not answer: the other equipment's on the
    link, 1, and on Modbus TCP also 0 and 255 (what gateways and single devices often use)."""
    usual = {0, 1, 255} if isinstance(conn, ModbusTcp) else {1}
    return sorted((set(on_link) | usual) - {conn.unit})[:MAX_OTHER_UNITS]


class Prober:
    """One probe run: the hubs it opened, the deadline, the results so far."""

    def __init__(self, site: Site, timeout: float, deadline: float) -> None:
        self.site = site
        self.timeout = timeout
        self.end = asyncio.get_running_loop().time() + deadline
        self.hubs: dict[HubKey, ModbusHub] = {}
        self.units: dict[HubKey, dict[int, str]] = {}
        self.results: list[ProbeResult] = []
        for entry in site.equipment:
            conn = entry.equipment.connection
            if not isinstance(conn, Mqtt):
                self.units.setdefault(HubKey.of(conn), {})[conn.unit] = entry.id

    def _left(self) -> float:
        return self.end - asyncio.get_running_loop().time()

    def _hub(self, conn: ModbusConnection) -> ModbusHub:
        key = HubKey.of(conn)
        if key not in self.hubs:
            # a failed connect is not retried within the probe: later reads fail at once
            self.hubs[key] = ModbusHub(
                conn,
                timeout=self.timeout,
                backoff_initial=3600.0,
                backoff_max=3600.0,
                link_reset_after=1_000_000,
            )
        return self.hubs[key]

    async def modbus(self, entry: SiteEquipment, profile: ModbusProfile) -> None:
        conn = entry.equipment.connection
        assert not isinstance(conn, Mqtt)
        hub = self._hub(conn)
        target = f"{_link(conn)} unit {conn.unit}"
        points = list(profile.points)  # derived points (profile.derived) read nothing
        asked_others = False
        for block in plan_reads(points, profile.modbus):
            read = _describe(block)

            def result(outcome: Outcome, detail: str = "", read: str = read) -> None:
                self.results.append(
                    ProbeResult(entry.id, entry.where, target, read, outcome, detail)
                )

            if self._left() <= 0:
                result("not-tried", "the probe's deadline passed first")
                continue
            try:
                await hub.read(block.table, block.address, block.count, conn.unit)
            except DeviceExceptionResponse as exc:
                hint = ""
                if exc.code in NO_ONE_ANSWERS and not asked_others:
                    asked_others = True
                    hint = await self._others(hub, conn, block)
                result("exception", "; ".join(filter(None, [exc.reason, hint])))
            except DeviceTimeout:
                hint = ""
                if not asked_others:
                    asked_others = True
                    hint = await self._others(hub, conn, block)
                result("timeout", hint or f"no answer within {self.timeout:g} s")
            except DeviceError as exc:
                result("unreachable", str(exc))
            else:
                result("answered")

    async def _others(self, hub: ModbusHub, conn: ModbusConnection, block: ReadBlock) -> str:
        """Ask the other likely unit ids for `block`; say which answer."""
        on_link = self.units.get(hub.key, {})
        answering: list[str] = []
        silent: list[int] = []
        for unit in other_units(conn, on_link):
            if self._left() <= 0:
                break
            try:
                await hub.read(block.table, block.address, block.count, unit)
            except DeviceExceptionResponse as exc:
                if exc.code in NO_ONE_ANSWERS:
                    silent.append(unit)
                else:  # a device is there, it just has no such registers
                    answering.append(_unit(unit, on_link))
            except DeviceError:
                silent.append(unit)
            else:
                answering.append(_unit(unit, on_link))
        link = _link(conn)
        if answering:
            return (
                f"unit {conn.unit} does not answer; {', '.join(answering)} "
                f"{'answers' if len(answering) == 1 else 'answer'} on {link} — check the unit id"
            )
        if silent:
            units = ", ".join(str(u) for u in silent)
            return (
                f"unit {conn.unit} does not answer, nor do units {units} on {link} — check the "
                f"device's power, wiring and address"
            )
        return ""

    async def mqtt(self, entry: SiteEquipment, settings: MqttSettings, wait: float) -> None:
        conn = entry.equipment.connection
        assert isinstance(conn, Mqtt)
        wait = min(wait, self._left())

        def result(outcome: Outcome, detail: str) -> None:
            self.results.append(
                ProbeResult(
                    entry.id, entry.where, f"topic {conn.topic}", "message", outcome, detail
                )
            )

        if wait <= 0:
            result("not-tried", "the probe's deadline passed first")
            return
        broker = f"{settings.mqtt_host}:{settings.mqtt_port}"
        try:
            async with asyncio.timeout(wait):
                async with aiomqtt.Client(
                    settings.mqtt_host,
                    settings.mqtt_port,
                    username=settings.mqtt_username,
                    password=(
                        settings.mqtt_password.get_secret_value()
                        if settings.mqtt_password
                        else None
                    ),
                    tls_context=mqtt_client_context(settings),
                    timeout=wait,
                ) as client:
                    await client.subscribe(conn.topic)
                    async for message in client.messages:
                        size = (
                            len(message.payload) if isinstance(message.payload, bytes | str) else 0
                        )
                        result("message", f"{size} bytes from broker {broker}")
                        return
        except TimeoutError:
            result("timeout", f"no message on broker {broker} within {wait:g} s")
        except aiomqtt.MqttError as exc:
            result("unreachable", f"broker {broker}: {exc}")

    async def close(self) -> None:
        for hub in self.hubs.values():
            with contextlib.suppress(Exception):
                await hub.close()


def _unit(unit: int, on_link: dict[int, str]) -> str:
    owner = on_link.get(unit)
    return f"unit {unit}" + (f" ({owner}'s)" if owner else "")


async def probe_site(
    site: Site,
    *,
    request_timeout: float = 1.0,
    deadline: float = 60.0,
    mqtt: MqttSettings | None = None,
    mqtt_wait: float = 10.0,
) -> list[ProbeResult]:
    """Probe every device of `site` once (MQTT ones only with `mqtt` settings)."""
    prober = Prober(site, request_timeout, deadline)
    try:
        for entry in site.equipment:
            if isinstance(entry.profile, ModbusProfile):
                await prober.modbus(entry, entry.profile)
            elif isinstance(entry.equipment.connection, Mqtt) and mqtt is not None:
                await prober.mqtt(entry, mqtt, mqtt_wait)
    finally:
        await prober.close()
    return prober.results
