"""A fault rehearsed at start, so that the first real one is as fast as the rest.

SQLAlchemy compiles a statement at its first use and keeps it in the engine's cache. A fault's
statements (the rule's open job, the active alarm, a recent fix, the team, the number, the
alarm, the job and its event) took 25 to 40 ms of CPU to compile, against about 5 ms to run
(`python -m benchmarks.fault_cpu --faults 1`); on a process held to a tenth of a core that was
several periods of its quota, and the first fault after a start waited 0.7 s for its work order
while the later ones waited 0.1 to 0.3 s (`python -m benchmarks overload`). So after its first
load the monitor raises a fault and clears it in a transaction that is rolled back, with this
thread's log records dropped meanwhile: nothing of it is kept, logged or sent (on PostgreSQL
the ids it drew from the sequences are skipped, as after any rollback), and what fails is
logged and otherwise ignored (a fault not rehearsed is only slower).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime

from cloud import faults
from cloud.db import Database
from cloud.equipment import Equipment
from cloud.incidents.service import IncidentManager
from cloud.live import LiveEquipment
from cloud.rules.engine import Change, RuleEngine, Transition
from cloud.sla import SlaPolicy

log = logging.getLogger(__name__)


@contextmanager
def quiet() -> Iterator[None]:
    """Meanwhile the root logger's handlers drop this thread's records (other threads' go on)."""
    thread = threading.get_ident()

    def other_thread(record: logging.LogRecord) -> bool:
        return record.thread != thread

    handlers = list(logging.getLogger().handlers)
    for handler in handlers:
        handler.addFilter(other_thread)
    try:
        yield
    finally:
        for handler in handlers:
            handler.removeFilter(other_thread)


def rehearse(
    db: Database,
    engine: RuleEngine,
    tracked: Iterable[LiveEquipment],
    *,
    now: datetime,
    sla: SlaPolicy,
    incidents: IncidentManager,
) -> bool:
    """Raise and clear a rule's fault on the first piece of equipment of `tracked` that has a
    rule (not an outage rule, which folds into incidents), and roll it back; whether it ran."""
    for live in tracked:
        rule = next((r for r in engine.rules_for(live.kind) if r.outage is None), None)
        if rule is not None:
            break
    else:
        return False
    try:
        with db.sessions() as session, quiet():
            equipment = session.get(Equipment, (live.site, live.id))
            if equipment is None:
                return False
            for change in (Change.RAISED, Change.CLEARED):
                transition = Transition(rule, live.key, change, now.timestamp(), {}, rule.title)
                faults.apply(
                    session, transition, equipment=equipment, now=now, sla=sla, incidents=incidents
                )
            session.flush()
            session.rollback()
    except Exception:
        log.warning("rehearsing a fault failed; the first fault may be slower", exc_info=True)
        return False
    return True
