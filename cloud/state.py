"""What the running service holds for the length of its life, created in the app's lifespan."""

from __future__ import annotations

from dataclasses import dataclass, field

from cloud.clock import Clock
from cloud.cluster.coordinator import Coordinator
from cloud.db import Database
from cloud.ingest import TelemetryConsumer
from cloud.maintenance.runner import MaintenanceRunner
from cloud.rules.model import Rule
from cloud.security import LoginThrottle
from cloud.sites import Sites
from cloud.sla import SlaPolicy
from cloud.workorders.filestore import FileStore, file_store
from plantroom.errors import PlantroomError
from plantroom.inventory import Inventory
from plantroom.settings import CloudSettings


@dataclass(slots=True)
class AppState:
    settings: CloudSettings
    sites: Sites  # the served sites' inventories (cloud.sites)
    rules: list[Rule]
    sla: SlaPolicy
    clock: Clock
    db: Database | None = None
    # the running telemetry consumers, per site (outside a cluster, one of every site, under
    # the first site's id)
    consumers: dict[str, TelemetryConsumer] = field(default_factory=dict)
    startup_error: PlantroomError | None = None
    login_throttle: LoginThrottle = field(default_factory=LoginThrottle)
    maintenance: MaintenanceRunner | None = None
    cluster: Coordinator | None = None  # the site leases, when cloud processes share the work
    file_store: FileStore | None = None  # made on first use, from the settings

    @property
    def served_sites(self) -> tuple[str, ...]:
        """The ids of the sites this service was given inventories for."""
        return self.sites.served

    @property
    def inventory(self) -> Inventory:
        """The first served site's inventory: the default of what names no site."""
        return self.sites.first

    def files(self) -> FileStore:
        """Where photos and signatures are kept: the data folder or an S3 bucket."""
        if self.file_store is None:
            self.file_store = file_store(self.settings)
        return self.file_store

    def close_files(self) -> None:
        """Close the file store's connections, if it was opened; the next use opens it again."""
        if self.file_store is not None:
            self.file_store.close()
            self.file_store = None

    def database(self) -> Database:
        if self.db is None:
            raise RuntimeError("the database is not open: the app's lifespan has not started")
        return self.db
