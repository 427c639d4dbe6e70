"""Grafana annotations for work orders raised, acknowledged and resolved, through
grafana-client's HTTP API (`POST /api/annotations`), when PLANTROOM_GRAFANA_URL is set.

Each annotation is organisation-wide (no dashboard), at the event's time, tagged
`plantroom`, `work_order`, the event type (`wo_raised`, `wo_acknowledged`, `wo_resolved`),
the priority, building and equipment, so a dashboard's annotation query can select them by
tag.
"""

from __future__ import annotations

from typing import Any

from grafana_client.api import AsyncGrafanaApi
from grafana_client.client import (
    GrafanaBadInputError,
    GrafanaClientError,
    GrafanaException,
    GrafanaUnauthorizedError,
)

from cloud.notify.events import GRAFANA_ACTIONS, Outgoing
from cloud.notify.pump import Permanent, Retryable

TYPE_TAG = {
    "created": "wo_raised",
    "reopened": "wo_raised",
    "acknowledge": "wo_acknowledged",
    "resolve": "wo_resolved",
}


def annotation(event: Outgoing) -> dict[str, Any]:
    """The annotation for an event: time (epoch ms), tags and text."""
    wo = event.work_order
    tags = ["plantroom", "work_order", TYPE_TAG[event.action], str(wo["priority"])]
    tags += [str(wo[k]) for k in ("building", "equipment_id") if wo.get(k)]
    return {
        "time_from": int(event.at.timestamp() * 1000),
        "tags": tags,
        "text": event.summary(),
    }


class GrafanaSink:
    batch = 1

    def __init__(self, url: str, token: str | None, *, timeout: float) -> None:
        self.name = f"grafana {url}"
        self._api = AsyncGrafanaApi.from_url(url=url, credential=token, timeout=timeout)

    def wants(self, event: Outgoing) -> bool:
        return event.action in GRAFANA_ACTIONS

    async def aclose(self) -> None:
        await self._api.client.s.close()

    async def deliver(self, events: list[Outgoing]) -> None:
        for event in events:
            try:
                await self._api.annotations.add_annotation(**annotation(event))
            except (GrafanaUnauthorizedError, GrafanaBadInputError) as exc:
                raise Permanent(f"Grafana refused the annotation: {exc}") from exc
            except GrafanaClientError as exc:
                raise Retryable(f"Grafana answered {exc}") from exc
            except GrafanaException as exc:  # timeouts, server errors
                raise Retryable(str(exc)) from exc
            except OSError as exc:
                raise Retryable(f"cannot reach Grafana: {exc}") from exc
