"""The cloud's settings for running several cloud processes on one PostgreSQL (`cloud.cluster`):
rule evaluation shared out by site through leases in the database.

A mixin of `plantroom.settings.CloudSettings`, kept apart so the settings module stays small;
the variables are `PLANTROOM_CLOUD_CLUSTER`, `PLANTROOM_CLOUD_LEASE_TTL_S` and
`PLANTROOM_CLOUD_PROCESS_ID`.
"""

from __future__ import annotations

from pydantic import Field

from plantroom.settingtypes import SettingsGroup


class ClusterSettings(SettingsGroup):
    """Site leases (docs/deploy.md, "Past one machine")."""

    cloud_cluster: bool = Field(
        default=False,
        description=(
            "share rule evaluation with the other cloud processes on this database: each site"
            " is evaluated by the process holding its lease; false: this process evaluates its"
            " site alone"
        ),
    )
    cloud_lease_ttl_s: float = Field(
        default=15.0,
        ge=3.0,
        le=300.0,
        description=(
            "how long a site lease lasts unless renewed (every third of it): a dead process's"
            " sites are taken over within about 4/3 of this"
        ),
    )
    cloud_process_id: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="this process's name in the leases; none: host:pid:random, new each start",
    )
