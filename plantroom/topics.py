"""MQTT topic names: built and parsed in one place.

plantroom/v1/{site}/{building}/{kind}/{equipment}/telemetry   QoS 1
plantroom/v1/{site}/{building}/{kind}/{equipment}/status      QoS 1 retained
plantroom/v1/{site}/edge/{agent}/status                        QoS 1 retained (LWT)
plantroom/v1/{site}/edge/{agent}/health                        QoS 1 (agent self-health)
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from plantroom.kinds import KINDS

PREFIX = "plantroom/v1"
TELEMETRY_WILDCARD = f"{PREFIX}/+/+/+/+/telemetry"
STATUS_WILDCARD = f"{PREFIX}/+/+/+/+/status"
EDGE_STATUS_WILDCARD = f"{PREFIX}/+/edge/+/status"
EDGE_HEALTH_WILDCARD = f"{PREFIX}/+/edge/+/health"

MAX_SEGMENT = 64  # as an inventory id: the longest site, building, equipment or agent name
_SEGMENT = re.compile(r"^[A-Za-z0-9_.:-]+\Z")


def check_segment(value: str, what: str) -> str:
    """A topic segment may not contain MQTT separators or wildcards, nor run past MAX_SEGMENT."""
    if len(value) > MAX_SEGMENT:
        raise ValueError(
            f"{what} {value[:MAX_SEGMENT]!r}… is {len(value)} characters; at most {MAX_SEGMENT}"
        )
    if not _SEGMENT.match(value):
        raise ValueError(f"{what} {value!r} may only contain letters, digits, '_', '-', '.', ':'")
    return value


def shown(topic: str, limit: int = 200) -> str:
    """A topic as an error message quotes it: cut to `limit` characters, so a hostile one
    cannot fill a log."""
    return repr(topic) if len(topic) <= limit else f"{topic[:limit]!r}… ({len(topic)} characters)"


def shared(group: str, topic_filter: str) -> str:
    """A subscription filter: shared in `group`, so replicas split the stream; plain without one.

    A plain subscription is the one mosquitto 2.0 restores from its persistence file after a
    crash; it drops shared subscriptions, so until a replica resubscribes, whatever is
    published goes to no one. A single consumer therefore subscribes plainly.
    """
    return f"$share/{group}/{topic_filter}" if group else topic_filter


def for_site(topic_filter: str, site: str) -> str:
    """One of the wildcards above narrowed to one site's topics."""
    head, _, rest = topic_filter.removeprefix(f"{PREFIX}/").partition("/")
    if head != "+" or not topic_filter.startswith(f"{PREFIX}/"):
        raise ValueError(f"{topic_filter!r} is not a per-site wildcard")
    return f"{PREFIX}/{check_segment(site, 'site')}/{rest}"


@dataclass(frozen=True, slots=True)
class EquipmentTopic:
    site: str
    building: str
    kind: str
    equipment: str

    def telemetry(self) -> str:
        return f"{PREFIX}/{self.site}/{self.building}/{self.kind}/{self.equipment}/telemetry"

    def status(self) -> str:
        return f"{PREFIX}/{self.site}/{self.building}/{self.kind}/{self.equipment}/status"


def edge_status(site: str, agent: str) -> str:
    return f"{PREFIX}/{site}/edge/{agent}/status"


def edge_health(site: str, agent: str) -> str:
    return f"{PREFIX}/{site}/edge/{agent}/health"


def parse_edge_topic(topic: str) -> tuple[str, str, str]:
    """Split an edge agent topic into (site, agent, leaf); raises ValueError naming the problem."""
    parts = topic.split("/")
    if len(parts) != 6 or f"{parts[0]}/{parts[1]}" != PREFIX or parts[3] != "edge":
        raise ValueError(f"not a Plantroom edge agent topic: {shown(topic)}")
    _, _, site, _, agent, leaf = parts
    if leaf not in ("status", "health"):
        raise ValueError(f"unknown leaf {leaf!r} in topic {shown(topic)}")
    check_segment(site, "site")
    check_segment(agent, "agent")
    return site, agent, leaf


def parse_equipment_topic(topic: str) -> tuple[EquipmentTopic, str]:
    """Split an equipment topic into its parts and its leaf (`telemetry` or `status`).

    Raises ValueError naming what is wrong.
    """
    parts = topic.split("/")
    if len(parts) != 7 or f"{parts[0]}/{parts[1]}" != PREFIX:
        raise ValueError(f"not a Plantroom equipment topic: {shown(topic)}")
    _, _, site, building, kind, equipment, leaf = parts
    if building == "edge":
        raise ValueError(f"edge status topic, not an equipment topic: {shown(topic)}")
    if kind not in KINDS:
        raise ValueError(f"unknown equipment kind {kind!r} in topic {shown(topic)}")
    if leaf not in ("telemetry", "status"):
        raise ValueError(f"unknown leaf {leaf!r} in topic {shown(topic)}")
    check_segment(site, "site")
    check_segment(building, "building")
    check_segment(equipment, "equipment")
    return EquipmentTopic(site, building, kind, equipment), leaf
