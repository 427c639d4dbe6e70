"""The FastAPI application and its lifespan.

`create_app` loads and validates what can fail early (inventory, device profiles, rules, SLA
targets) so a bad file stops the service before it listens. The lifespan then opens and
migrates the database, syncs the equipment registry from the inventory, creates the demo users
in demo mode, and runs the telemetry consumer until shutdown.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import timedelta

from fastapi import FastAPI

from cloud import api, registry
from cloud.alarms.edge_clock import EdgeClockAlarms
from cloud.alarms.intake import IntakeAlarms
from cloud.api import ack_links, alarm_actions, console, equipment_page, errors, public_requests
from cloud.api import assets as asset_routes
from cloud.api import checklist as checklist_routes
from cloud.api import desk as desk_routes
from cloud.api import kpi as kpi_routes
from cloud.api import maintenance as maintenance_routes
from cloud.api import notifications as notification_routes
from cloud.api import oncall as oncall_routes
from cloud.api import pm as pm_routes
from cloud.api import reports as report_routes
from cloud.api import rules as rule_routes
from cloud.api import sites as site_routes
from cloud.api import user_sites as user_site_routes
from cloud.api import users as user_routes
from cloud.api.admission import Admission, AdmissionMiddleware
from cloud.api.limits import BodyLimitMiddleware, BodyLimits
from cloud.clock import Clock, utcnow
from cloud.cluster.coordinator import Coordinator, Fence
from cloud.cluster.evaluation import Evaluator, site_client_id
from cloud.cluster.turns import turn
from cloud.db import Database
from cloud.ingest import TelemetryConsumer
from cloud.maintenance.runner import MaintenanceRunner
from cloud.maintenance.window import Board, Window
from cloud.notify.config import NotifyConfig
from cloud.notify.notifier import IntakeFigures, Notifier
from cloud.notify.outbound import Outbound
from cloud.pm.loader import load_plans
from cloud.pm.scheduler import PmScheduler
from cloud.points import load_point_check
from cloud.requests.config import DeskConfig
from cloud.requests.desk import ServiceDesk
from cloud.rules.service import RulesService
from cloud.security import LoginThrottle
from cloud.sites import Sites
from cloud.sla import load_sla
from cloud.sla.escalator import Escalator
from cloud.state import AppState
from cloud.users.demo import (
    ensure_demo_rotas,
    ensure_demo_users,
    ensure_demo_visit,
    write_credentials,
)
from cloud.workorders.routing import use_team_defaults
from cloud.workorders.teamsfile import load_contractors, sync_contractors
from plantroom.errors import PlantroomError
from plantroom.settings import CloudSettings

log = logging.getLogger(__name__)

DESCRIPTION = """
Equipment registry, alarms and work orders of a Plantroom site.

Every endpoint but `/api/health` and the occupants' `/api/public/…` needs an API token:
`Authorization: Bearer <token>`.
Errors have one shape: `{"error": {"code": "...", "message": "..."}}`.
"""


def api_url(settings: CloudSettings) -> str:
    host = settings.api_host
    if host in ("0.0.0.0", "::", ""):
        host = "127.0.0.1"  # listening everywhere: this machine is one of the places
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = "https" if settings.api_tls_cert_file and settings.api_tls_key_file else "http"
    return f"{scheme}://{host}:{settings.api_port}"


def _demo(state: AppState, db: Database, mail_channel: str | None = None) -> None:
    with db.session() as session:
        credentials = ensure_demo_users(session, now=state.clock(), mail_channel=mail_channel)
        zone = state.inventory.site.timezone  # the demo's people work at the first site
        ensure_demo_rotas(session, now=state.clock(), site_zone=zone)
        ensure_demo_visit(session, now=state.clock(), site_zone=zone)
    for c in credentials:
        sys.stdout.write(f"{c.role.value} {c.username} token: {c.token}\n")
    sys.stdout.flush()
    path = state.settings.demo_credentials_path
    write_credentials(path, credentials, api_url(state.settings))
    log.info("demo credentials written to %s", path)


def _site_of(sites: Sites) -> Callable[[Window], str | None]:
    """The site of a maintenance window: its own, or its building's."""

    def site_of(window: Window) -> str | None:
        if window.site is not None:
            return window.site
        return sites.site_of(window.building) if window.building is not None else None

    return site_of


def _intake(state: AppState) -> IntakeFigures:
    """Each running telemetry consumer's figures for the pipeline board, with its site."""

    def figures() -> list[tuple[str, str, Mapping[str, int | float]]]:
        return [(s, c.intake_name, c.health_fields()) for s, c in sorted(state.consumers.items())]

    return figures


def create_app(
    settings: CloudSettings,
    *,
    clock: Clock = utcnow,
    ingest: bool = True,
    tick_interval: float = 1.0,
    mqtt_client_id: str | None = None,
    escalate: bool = True,
    notify: bool = True,
) -> FastAPI:
    """The cloud service. `ingest=False` serves the API without consuming telemetry;
    `escalate=False` without the SLA, service desk and maintenance tickers; `notify=False` without
    webhooks, Grafana annotations and InfluxDB events and metrics."""
    sites = Sites.load(settings.inventory)  # one file or a folder: ids unique across sites
    inventory = sites.first  # the default site of what names none
    points = load_point_check(sites.inventories, settings.profiles_dir)  # a bad profile fails
    timezone = sites.zone_of(inventory.site.id)
    rules = RulesService(settings.rules_dir, timezone=timezone, clock=clock)
    rules.zones = sites.equipment_zones()  # time-of-day rules read each site's clock
    state = AppState(
        settings=settings,
        sites=sites,
        rules=rules.current.rules,
        sla=load_sla(),
        clock=clock,
        login_throttle=LoginThrottle(
            free=settings.login_free_attempts, max_s=settings.login_max_delay_s
        ),
    )
    rules.on_reload = lambda rule_set: setattr(state, "rules", rule_set.rules)
    use_team_defaults(settings.teams_file)  # a bad file fails here
    contractors = load_contractors(settings.teams_file) if settings.teams_file else []

    database = Database(settings.database_url)  # a bad URL fails here, before listening
    pm_scheduler = PmScheduler(
        database,
        load_plans(settings.pm_dir) if settings.pm_enabled else [],
        inventory=sites,  # each site's plans fall due in its own time zone
        clock=clock,
        sla=state.sla,
        interval=settings.pm_interval_s,
    )
    maintenance = MaintenanceRunner(  # maintenance windows: held alarms, PM jobs, ends
        database,
        Board(),
        sla=state.sla,
        clock=clock,
        interval=settings.maintenance_interval_s,
        pm_plans=[p.id for p in pm_scheduler.plans if p.plan.maintenance_mode != "none"],
        pm_longest=timedelta(hours=settings.maintenance_pm_hours),
        rules=lambda: state.rules,
    )
    # the service desk: a bad categories file fails here
    desk = ServiceDesk(
        None,
        DeskConfig.from_settings(settings, api_url=api_url(settings), timezone=timezone),
        settings,
        clock=clock,
    )
    # webhooks without a signing secret outside demo mode fail here too
    notify_config = NotifyConfig.from_settings(settings, site=inventory.site.id)
    # messages to people: a bad channels file, or channels without a link key, fail here
    outbound = Outbound.from_settings(
        settings, timezone=timezone, api_url=api_url(settings), desk=desk.config
    )

    async def start(stack: AsyncExitStack) -> None:
        stack.callback(database.close)
        stack.callback(state.close_files)  # the S3 client's connections, if it was made
        database.migrate()
        # processes starting together on one database register the inventories in turn
        with turn(database, "cloud-registry"), database.session() as session:
            for each in sites.inventories:  # each site retires only its own equipment
                registry.sync_inventory(session, each)
            # the teams file's contractor teams: a channel not configured fails here
            buildings = sites.buildings()
            sync_contractors(
                session, contractors, channels=outbound.channels, buildings=buildings, now=clock()
            )
        state.db = database
        stack.callback(setattr, state, "db", None)
        if settings.demo_mode:  # demo users; their e-mail contact points with a mail channel
            _demo(state, database, "email" if "email" in outbound.channels else None)
        desk.db = database
        if escalate:  # the desk's ticker: reporters informed, "fixed?" timeouts, follow-ups
            await stack.enter_async_context(desk)
        escalator: Escalator | None = None
        if escalate:  # the SLA ticker: dispatch, escalation, verified closure
            escalator = ticker = Escalator(
                database, state.sla, clock=clock, interval=settings.escalation_interval_s
            )
            await stack.enter_async_context(ticker)
        if notify:  # webhooks, Grafana annotations, InfluxDB events and metrics
            await stack.enter_async_context(
                Notifier(database, notify_config, sla=state.sla, clock=clock, intake=_intake(state))
            )
        if notify and outbound.channels:  # e-mail, chat and SMS from the outbox
            deliverer = await stack.enter_async_context(outbound.deliver(database, clock))
            if escalator is not None:  # a job told is sent at once, not at the next pass
                escalator.on_told = deliverer.ticker.wake
        maintenance.refresh()  # the windows are known before the first telemetry batch
        if escalate:  # the maintenance loop: PM jobs followed, ended windows settled
            await stack.enter_async_context(maintenance)
        state.maintenance = maintenance
        stack.callback(setattr, state, "maintenance", None)
        if escalator is not None:  # a job raised at a window's end is told at once
            maintenance.on_raised = escalator.ticker.wake

        def consumer_for(site: str, fence: Fence | None = None) -> TelemetryConsumer:
            monitor = rules.monitor(
                database,
                site=site,
                sla=state.sla,
                provided=points.provided(),
                sites=sites.by_building(),
                live_interval=settings.live_write_interval_s,
            )
            monitor.maintenance = maintenance.board
            monitor.fence = fence  # in a cluster: commit only under the site's lease
            monitor.only_site = site if fence else None  # and load only the site's state
            if escalator is not None:  # a new job is told at once, not at the next tick
                monitor.on_raised = escalator.ticker.wake
            return TelemetryConsumer(
                settings,
                monitor,
                client_id=site_client_id(settings.cloud_client_id, site)
                if fence
                else mqtt_client_id,
                tick_interval=tick_interval,
                points=points,
                clock_alarms=EdgeClockAlarms(
                    database, clock=clock, max_skew_s=settings.max_clock_skew_s
                ),
                lag_alarms=IntakeAlarms(database, clock=clock),
                site=site if fence else None,
            )

        def attach(site: str, consumer: TelemetryConsumer | None) -> None:
            """`site`'s running consumer (None: stopped) to the API's health, the rule reloads
            and maintenance, which settles the site's windows in turn with its batches."""
            key = site if settings.cloud_cluster else None  # else one consumer of every site
            if consumer is None:
                state.consumers.pop(site, None)
                maintenance.consumers.pop(key, None)
            else:
                state.consumers[site] = consumer
                maintenance.consumers[key] = consumer
            rules.attach(site, consumer)

        maintenance.site_of = _site_of(sites)

        if ingest and settings.cloud_cluster:  # the sites whose leases this process holds
            coordinator = Coordinator(
                database, list(sites.served), settings, Evaluator(consumer_for, attach)
            )
            state.cluster = await stack.enter_async_context(coordinator)
            stack.callback(setattr, state, "cluster", None)
        elif ingest:
            attach(
                inventory.site.id, await stack.enter_async_context(consumer_for(inventory.site.id))
            )
            stack.callback(attach, inventory.site.id, None)
        await stack.enter_async_context(rules.running())  # reload when the rule files change
        if settings.pm_enabled:  # preventive maintenance falling due
            await stack.enter_async_context(pm_scheduler)

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
                ", ".join(sites.served),
                sum(1 for _ in sites.equipment()),
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
    app.state.rules_service = rules
    app.state.pm_scheduler = pm_scheduler
    app.state.outbound = outbound
    errors.install(app)
    app.include_router(api.router)
    for routes in (kpi_routes, user_routes, report_routes):  # KPIs, users and teams, reports
        app.include_router(routes.router, prefix="/api")
    for routes in (rule_routes, alarm_actions, pm_routes):  # rules, alarm actions, PM
        app.include_router(routes.router, prefix="/api")
    app.include_router(notification_routes.router, prefix="/api")  # contact points, outbox
    app.include_router(ack_links.router)  # /ack/<token>: the links in messages
    app.include_router(checklist_routes.router, prefix="/api")  # steps, photos, sign-off
    app.include_router(oncall_routes.router, prefix="/api")  # on-call rotas
    app.include_router(maintenance_routes.router, prefix="/api")  # maintenance windows
    app.state.desk = desk
    public_requests.install(app)  # the public report and tracking pages and their API
    app.include_router(desk_routes.router, prefix="/api")  # the service desk
    console.install(app)  # the technician console at /, /api/events, equipment history
    app.include_router(equipment_page.router)  # /equipment/<id>: the QR labels' address
    app.include_router(asset_routes.router, prefix="/api")  # the asset register, its CSV
    app.include_router(site_routes.router, prefix="/api")  # the sites the caller sees
    app.include_router(user_site_routes.router, prefix="/api")  # a person's sites and roles
    app.add_middleware(BodyLimitMiddleware, limits=BodyLimits.from_settings(settings))
    # outermost: past capacity a request is answered 503 before anything works on it
    app.state.admission = Admission.from_settings(settings)
    app.add_middleware(AdmissionMiddleware, admission=app.state.admission)
    return app
