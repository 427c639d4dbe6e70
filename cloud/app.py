"""The FastAPI application and its lifespan.

`create_app` loads and validates what can fail early (inventory, rules, SLA targets) so a bad
file stops the service before it listens. The lifespan then opens and migrates the database,
syncs the equipment registry from the inventory, creates the demo users in demo mode, and runs
the telemetry consumer until shutdown.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from cloud import api, registry
from cloud.api import errors
from cloud.clock import Clock, utcnow
from cloud.db import Database
from cloud.ingest import TelemetryConsumer
from cloud.monitor import Monitor
from cloud.rules.engine import RuleEngine
from cloud.rules.loader import load_rules
from cloud.sla import load_sla
from cloud.state import AppState
from cloud.users import ensure_demo_users, write_credentials
from plantroom.errors import PlantroomError
from plantroom.inventory import load_inventory
from plantroom.settings import CloudSettings

log = logging.getLogger(__name__)

DESCRIPTION = """
Equipment registry, alarms and work orders of a Plantroom site.

Every endpoint but `/api/health` needs an API token: `Authorization: Bearer <token>`.
Errors have one shape: `{"error": {"code": "...", "message": "..."}}`.
"""


def api_url(settings: CloudSettings) -> str:
    host = settings.api_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: this machine is one of the places
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{settings.api_port}"


def _demo(state: AppState, db: Database) -> None:
    with db.session() as session:
        credentials = ensure_demo_users(session, now=state.clock())
    for c in credentials:
        sys.stdout.write(f"{c.role.value} {c.username} token: {c.token}\n")
    sys.stdout.flush()
    path = state.settings.demo_credentials_path
    write_credentials(path, credentials, api_url(state.settings))
    log.info("demo credentials written to %s", path)


def create_app(
    settings: CloudSettings,
    *,
    clock: Clock = utcnow,
    ingest: bool = True,
    tick_interval: float = 1.0,
    mqtt_client_id: str | None = None,
) -> FastAPI:
    """The cloud service. `ingest=False` serves the API without consuming telemetry."""
    inventory = load_inventory(settings.inventory)
    state = AppState(
        settings=settings,
        inventory=inventory,
        rules=load_rules(settings.rules_dir),
        sla=load_sla(),
        clock=clock,
    )

    database = Database(settings.database_url)  # a bad URL fails here, before listening

    async def start(stack: AsyncExitStack) -> None:
        stack.callback(database.close)
        database.migrate()
        with database.session() as session:
            registry.sync_inventory(session, inventory)
        state.db = database
        stack.callback(setattr, state, "db", None)
        if settings.demo_mode:
            _demo(state, database)
        if ingest:
            engine = RuleEngine(state.rules, clock=lambda: clock().timestamp())
            monitor = Monitor(database, engine, site=inventory.site.id, clock=clock, sla=state.sla)
            consumer = TelemetryConsumer(
                settings, monitor, client_id=mqtt_client_id, tick_interval=tick_interval
            )
            state.consumer = await stack.enter_async_context(consumer)
            stack.callback(setattr, state, "consumer", None)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with AsyncExitStack() as stack:
            state.startup_error = None
            try:
                await start(stack)
            except PlantroomError as exc:
                state.startup_error = exc
                raise
            log.info(
                "cloud service ready: site %s, %d equipment, %d rules",
                inventory.site.id,
                sum(1 for _ in inventory.equipment()),
                len(state.rules),
            )
            yield
        log.info("cloud service stopped")

    app = FastAPI(
        title="Plantroom cloud",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url="/docs",
        openapi_url="/openapi.json",
    )
    app.state.cloud = state
    errors.install(app)
    app.include_router(api.router)
    return app
