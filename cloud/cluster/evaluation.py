"""A leased site's work: its own telemetry consumer (subscription, queue, rule engine), started
when the lease is acquired and stopped when it is released or lost.

The consumer's monitor commits each batch under the lease's fence, and the receiver connects
under the site's own MQTT client id with a persistent session (`site_client_id`), the same in
every process: the process that takes the site over resumes the session the last holder left,
with what the broker queued for it meanwhile. Starting the consumer loads the site's rule state
(timers, history, active alarms) from the database, as the last holder left it.
"""

from __future__ import annotations

from collections.abc import Callable

from cloud.cluster.coordinator import Fence
from cloud.ingest import TelemetryConsumer

MakeConsumer = Callable[[str, Fence], TelemetryConsumer]
Attach = Callable[[str, TelemetryConsumer | None], None]


def site_client_id(prefix: str | None, site: str) -> str:
    """The MQTT client id of a site's subscription, whichever process holds its lease."""
    return f"{prefix or 'plantroom-cloud'}-site-{site}"


class SiteEvaluation:
    """The running consumer of one leased site; `stop(drain=False)` drops what is queued."""

    def __init__(self, site: str, consumer: TelemetryConsumer, attach: Attach) -> None:
        self.site = site
        self.consumer = consumer
        self._attach = attach

    async def stop(self, *, drain: bool) -> None:
        self._attach(self.site, None)
        await self.consumer.stop(drain=drain)


class Evaluator:
    """`start_site` of a `Coordinator`: makes the site's consumer (`make`, with the site's
    fence), starts it, and hands it to `attach` with the site (the API's health, rule reloads,
    maintenance) while it runs."""

    def __init__(self, make: MakeConsumer, attach: Attach) -> None:
        self._make = make
        self._attach = attach

    async def __call__(self, site: str, fence: Fence) -> SiteEvaluation:
        consumer = self._make(site, fence)
        await consumer.start()
        self._attach(site, consumer)
        return SiteEvaluation(site, consumer, self._attach)
