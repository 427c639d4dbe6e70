"""What `/api/health` tells of the cluster: this process's leases and who holds what."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from cloud.cluster.coordinator import Coordinator


class SiteLeaseHealth(BaseModel):
    model_config = ConfigDict(frozen=True)

    site: str
    holder: str | None = Field(description="the process holding it; null when free")
    epoch: int = Field(description="how many times it has been acquired")
    expires_at: datetime
    held: bool = Field(description="held and not expired at the time of the last heartbeat")


class SiteIntake(BaseModel):
    """A held site's telemetry consumer (`mqtt` in the health answer has the totals)."""

    model_config = ConfigDict(frozen=True)

    connected: bool
    received: int
    invalid: int
    dropped: int
    queued: int
    oldest_wait_s: float = Field(description="how long its oldest waiting message has waited")
    behind: bool = Field(description="its intake lags beyond the bound (the system alarm is up)")


class ClusterHealth(BaseModel):
    model_config = ConfigDict(frozen=True)

    process_id: str
    lease_ttl_s: float
    sites: list[str] = Field(description="the sites this process holds and evaluates")
    expires_at: dict[str, datetime] = Field(description="per site held, when its lease expires")
    members: list[str] = Field(description="the live cloud processes, at the last heartbeat")
    leases: list[SiteLeaseHealth] = Field(description="every site's lease, at the last heartbeat")
    unwatched: list[str] = Field(description="sites no process has held for over the lease's life")
    heartbeat_at: datetime | None = Field(description="the last heartbeat's database time")
    failures: int = Field(description="heartbeats that failed (database unreachable)")
    failing: int = Field(description="of them, in a row until now")
    last_error: str | None
    intake: dict[str, SiteIntake] = Field(
        default_factory=dict, description="per site held, its telemetry consumer"
    )
    sends: list[str] = Field(
        default_factory=list,
        description="what this process alone sends now: cloud-notify (webhooks, Grafana,"
        " InfluxDB events and work-order metrics), cloud-outbox (e-mail, chat, SMS)",
    )


def cluster_health(
    coordinator: Coordinator,
    intake: dict[str, SiteIntake] | None = None,
    sends: list[str] | None = None,
) -> ClusterHealth:
    held = coordinator.held()
    view = coordinator.stats.last_view
    leases = (
        []
        if view is None
        else [
            SiteLeaseHealth(
                site=lease.site,
                holder=lease.holder,
                epoch=lease.epoch,
                expires_at=lease.expires_at,
                held=lease.held(view.now),
            )
            for lease in view.leases
        ]
    )
    return ClusterHealth(
        process_id=coordinator.process_id,
        lease_ttl_s=coordinator.ttl_s,
        sites=sorted(held),
        expires_at={site: h.expires_at for site, h in sorted(held.items())},
        members=list(view.members) if view else [],
        leases=leases,
        unwatched=list(coordinator.stats.unwatched),
        heartbeat_at=view.now if view else None,
        failures=coordinator.stats.failures,
        failing=coordinator.stats.failing,
        last_error=coordinator.stats.last_error,
        intake=intake or {},
        sends=sends or [],
    )
