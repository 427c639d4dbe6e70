"""Building outages: when many devices of one building are lost at once, one incident.

A power failure (or a dead network switch) silences every device of a building within
seconds. Raising one lost-communication work order per device would bury the one job that
matters under dozens that do not. So when a rule marked `outage: comm_loss` raises and
`min_devices` or more devices of the same building have been lost within `window` (status
offline or stale, or a comm-loss alarm raised), the service opens an **incident** instead:

1. an emergency **check per lift** of the building (passengers may be trapped between floors),
2. then an emergency **check per fire panel** (it runs on its standby battery, with a limited
   autonomy),
3. then **one incident work order** for the building: find the cause, restore lifts and fire
   systems first, provide emergency power and lighting, tell the occupants — the order the
   service standards prescribe for a power failure.

The lost-communication alarms (and `outage: power_loss` alarms such as a fire panel's mains
failure) of that building are linked to the incident and raise no work order of their own
while it is active. Every other alarm — a trapped passenger reported by a lift on its own
battery, a sump rising — still raises its own work order. The incident clears when all its
alarms have cleared; its work orders stay for the technicians.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from cloud.alarms.model import Alarm
from cloud.enums import AlarmState, EquipmentStatus, Priority, WorkOrderKind
from cloud.equipment import Equipment
from cloud.incidents.model import Incident
from cloud.locale import N_
from cloud.locale.composed import Composed, Note, compose, paragraphs
from cloud.locale.shipped import OUTAGE
from cloud.maintenance.model import held_in
from cloud.rules.engine import Transition
from cloud.rules.model import OutagePolicy, Rule
from cloud.sla import SlaPolicy
from cloud.workorders import creation, queries
from cloud.workorders.audit import system_event
from cloud.workorders.model import WorkOrder

log = logging.getLogger(__name__)

KIND = "outage"
INCIDENT_RULE = "incident.outage"
LIFT_CHECK_RULE = "incident.lift_check"
FIRE_CHECK_RULE = "incident.fire_panel_check"

INCIDENT_CHECKLIST = (
    "Find the cause: building supply, main switchboard, network switch or edge gateway",
    "Restore lifts and fire systems first",
    "Provide emergency power and lighting",
    "Tell the occupants the expected restoration time",
    "Confirm every device reports again",
)
LIFT_CHECKLIST = (
    "Check the car for trapped passengers and release them",
    "Secure the car at a landing; keep it out of service until power is stable",
    "Return the lift to service and confirm it reports again",
)
FIRE_CHECKLIST = (
    "Confirm the panel runs on its standby battery and note the battery voltage",
    "Check for fire alarms, troubles and isolated zones",
    "Arrange standby power if the outage will outlast the battery",
    "Confirm mains is back and the panel is normal",
)
CHECK_KINDS = (
    ("elevator", LIFT_CHECK_RULE, LIFT_CHECKLIST),
    ("fire_panel", FIRE_CHECK_RULE, FIRE_CHECKLIST),
)
LOST = (EquipmentStatus.OFFLINE, EquipmentStatus.STALE)


def building_key(building: str) -> str:
    return f"building:{building}"


def emergency_job(
    session: Session,
    incident: Incident,
    *,
    rule_id: str,
    key: str,
    title: str,
    equipment: Equipment | None = None,
    building: str | None = None,
    description: Composed,
    note: Note,
    checklist: tuple[str, ...],
    now: datetime,
    sla: SlaPolicy,
) -> WorkOrder:
    """One of `incident`'s emergency work orders, raised for `rule_id` on `key`."""
    text, parts = paragraphs(description)
    wo = creation.raise_for_rule(
        session,
        rule_id=rule_id,
        key=key,
        title=title,
        kind=WorkOrderKind.FAULT,
        priority=Priority.EMERGENCY,
        now=now,
        sla=sla,
        equipment=equipment,
        building=building,
        description=text,
        note=note,
        checklist=checklist,
    )
    wo.description_message = parts
    wo.incident_id = incident.id
    return wo


class IncidentManager:
    """Decides, for each raised outage alarm, whether it folds into a building incident."""

    def __init__(
        self,
        policy: OutagePolicy,
        rules: Iterable[Rule],
        *,
        site: str,
        sites: Mapping[str, str] | None = None,
    ) -> None:
        self.site = site
        self.sites: dict[str, str] = dict(sites or {})  # building → site, where not `site`
        self.policy = policy
        self.folded = 0  # raised alarms folded into an incident, since start
        self.comm_loss_rules: frozenset[str] = frozenset()
        self.outage_rules: frozenset[str] = frozenset()
        self.set_rules(policy, rules)

    def set_rules(self, policy: OutagePolicy, rules: Iterable[Rule]) -> None:
        rules = list(rules)
        self.policy = policy
        self.comm_loss_rules = frozenset(r.id for r in rules if r.outage == "comm_loss")
        self.outage_rules = frozenset(r.id for r in rules if r.outage is not None)

    # -- queries ------------------------------------------------------------------------------

    @staticmethod
    def active(session: Session, building: str) -> Incident | None:
        return session.scalar(
            select(Incident)
            .where(Incident.building == building, Incident.state == AlarmState.ACTIVE)
            .order_by(Incident.id.desc())
            .limit(1)
        )

    def lost_devices(self, session: Session, building: str, now: datetime) -> set[str]:
        """Devices of the building lost within the window: gone offline or stale, or with a
        lost-communication alarm raised; not those in maintenance, whose silence is planned."""
        held = held_in(session, building, now)
        if held is None:  # the whole building is in maintenance
            return set()
        since = now - timedelta(seconds=self.policy.window)
        lost = set(
            session.scalars(
                select(Equipment.id).where(
                    Equipment.building == building,
                    Equipment.in_inventory.is_(True),
                    Equipment.status.in_(LOST),
                    Equipment.status_changed_at >= since,
                )
            )
        )
        if self.comm_loss_rules:
            lost.update(
                session.scalars(
                    select(Alarm.equipment_id)
                    .join(Alarm.equipment)
                    .where(
                        Equipment.building == building,
                        Alarm.state == AlarmState.ACTIVE,
                        Alarm.rule_id.in_(self.comm_loss_rules),
                        Alarm.last_raised_at >= since,
                    )
                )
            )
        return lost - held

    # -- raising and clearing -----------------------------------------------------------------

    def incident_for(
        self,
        session: Session,
        transition: Transition,
        *,
        equipment: Equipment,
        now: datetime,
        sla: SlaPolicy,
    ) -> Incident | None:
        """The incident a raised outage alarm folds into (opened now if the building has lost
        enough devices), or None when it raises its own work order."""
        outage = transition.rule.outage
        if outage is None or not self.policy.enabled:
            return None
        incident = self.active(session, equipment.building)
        if incident is None:
            lost = self.lost_devices(session, equipment.building, now)
            if outage == "comm_loss":
                lost.add(equipment.id)
            if len(lost) < self.policy.min_devices:
                return None
            incident = self.open(session, equipment.building, lost, now=now, sla=sla)
        self.folded += 1
        return incident

    def open(
        self, session: Session, building: str, lost: set[str], *, now: datetime, sla: SlaPolicy
    ) -> Incident:
        """Open the building's incident: lift checks, fire panel checks, then the incident's
        own work order; link the outage alarms already active in the building."""
        incident = Incident(
            site=self.sites.get(building, self.site),
            building=building,
            kind=KIND,
            state=AlarmState.ACTIVE,
            title=OUTAGE.format(building=building, count=len(lost)),
            devices_lost=len(lost),
            started_at=now,
        )
        session.add(incident)
        session.flush()
        names = ", ".join(sorted(lost))
        everything = session.scalars(
            select(Equipment)
            .where(Equipment.building == building, Equipment.in_inventory.is_(True))
            .order_by(Equipment.id)
        ).all()
        raised: list[WorkOrder] = []
        for kind, rule_id, items in CHECK_KINDS:
            for eq in (e for e in everything if e.kind == kind):
                wo = self._check(session, incident, eq, rule_id, items, now=now, sla=sla)
                if wo is not None:
                    raised.append(wo)
        main = emergency_job(
            session,
            incident,
            rule_id=INCIDENT_RULE,
            key=building_key(building),
            title=incident.title,
            building=building,
            description=compose(
                N_(
                    "Many devices of the building stopped reporting at once: a power failure or "
                    "a network outage. Lifts and fire panels have their own emergency checks "
                    "(incident %(incident)s). Devices lost: %(names)s."
                ),
                incident=str(incident.id),
                names=names,
            ),
            note=compose(
                N_("incident %(incident)s: %(count)s devices lost (%(names)s)"),
                incident=str(incident.id),
                count=len(lost),
                names=names,
            ),
            checklist=INCIDENT_CHECKLIST,
            now=now,
            sla=sla,
        )
        raised.append(main)
        linked = session.scalars(
            select(Alarm)
            .join(Alarm.equipment)
            .where(
                Equipment.building == building,
                Alarm.state == AlarmState.ACTIVE,
                Alarm.incident_id.is_(None),
                Alarm.rule_id.in_(self.outage_rules),
                # not those held by a maintenance window: they wait for its end
                or_(Alarm.maintenance_id.is_(None), Alarm.shelved_until.is_(None)),
            )
        ).all()
        for alarm in linked:
            alarm.incident_id = incident.id
        session.flush()
        log.warning(
            "incident %d: outage in building %s, %d devices lost (%s); work orders %s",
            incident.id,
            building,
            len(lost),
            names,
            ", ".join(w.number for w in raised),
        )
        return incident

    @staticmethod
    def _check(
        session: Session,
        incident: Incident,
        equipment: Equipment,
        rule_id: str,
        items: tuple[str, ...],
        *,
        now: datetime,
        sla: SlaPolicy,
    ) -> WorkOrder | None:
        open_wo = queries.open_for_fault(session, equipment, rule_id)
        if open_wo is not None:  # still open from an earlier outage: it covers this one
            open_wo.incident_id = incident.id
            system_event(
                session,
                open_wo,
                "incident_linked",
                compose(
                    N_("incident %(incident)s: %(title)s"),
                    incident=str(incident.id),
                    title=incident.title,
                ),
                at=now,
            )
            return None
        what = "Lift" if equipment.kind == "elevator" else "Fire panel"
        reason = (
            N_("passengers may be trapped between floors")
            if equipment.kind == "elevator"
            else N_("it runs on its standby battery")
        )
        return emergency_job(
            session,
            incident,
            rule_id=rule_id,
            key=equipment.id,
            title=f"{what} check after building outage: {creation.describe_equipment(equipment)}",
            equipment=equipment,
            description=compose(
                N_(
                    "Building %(building)s lost many devices at once (incident %(incident)s): "
                    "%(reason)s. Check it first, before the rest of the building."
                ),
                building=equipment.building,
                incident=str(incident.id),
                reason=compose(reason),
            ),
            note=compose(N_("incident %(incident)s"), incident=str(incident.id)),
            checklist=items,
            now=now,
            sla=sla,
        )

    @staticmethod
    def after_clear(session: Session, incident_id: int, *, now: datetime) -> Incident | None:
        """Clear the incident once none of its alarms is active any more."""
        incident = session.get(Incident, incident_id)
        if incident is None or incident.state is not AlarmState.ACTIVE:
            return None
        still = session.scalar(
            select(Alarm.id)
            .where(Alarm.incident_id == incident_id, Alarm.state == AlarmState.ACTIVE)
            .limit(1)
        )
        if still is not None:
            return None
        incident.state = AlarmState.CLEARED
        incident.cleared_at = now
        main = session.scalar(
            select(WorkOrder).where(
                WorkOrder.incident_id == incident_id,
                WorkOrder.rule_id == INCIDENT_RULE,
                WorkOrder.open_key.is_not(None),
            )
        )
        if main is not None:
            system_event(
                session,
                main,
                "fault_cleared",
                compose(
                    N_("every device of incident %(incident)s reports again"),
                    incident=str(incident_id),
                ),
                at=now,
            )
        log.info("incident %d in building %s cleared", incident_id, incident.building)
        return incident


def incidents(
    session: Session,
    *,
    building: str | None = None,
    sites: frozenset[str] | None = None,
    limit: int = 100,
) -> list[Incident]:
    """Incidents, newest first (of `sites` only, unless None)."""
    query = select(Incident).order_by(Incident.id.desc()).limit(limit)
    if sites is not None:
        query = query.where(Incident.site.in_(sorted(sites)))
    if building is not None:
        query = query.where(Incident.building == building)
    return list(session.scalars(query).all())
