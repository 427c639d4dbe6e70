"""The service desk's ticker and what the API needs of it for the length of the service's
life: the settings, the public form's rate limits, and the periodic work (reporters brought
up to date, unanswered "fixed?" closed, closed repairs sampled for follow-up, expired
contacts erased)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session

from cloud.clock import Clock
from cloud.cluster.turns import turn
from cloud.db import Database
from cloud.orm import Counter
from cloud.requests.config import DeskConfig
from cloud.requests.confirm import close_unanswered
from cloud.requests.followups import sample_closed
from cloud.requests.limits import ReportLimits
from cloud.requests.privacy import erase_expired
from cloud.requests.updates import sync
from plantroom.settings import CloudSettings
from plantroom.ticker import Ticked, Ticker, TickerStats

log = logging.getLogger(__name__)

HONEYPOT_COUNTER = "request_honeypot"


def bump(session: Session, name: str) -> None:
    """Count one more of `name` in the shared counters table."""
    done = session.scalar(
        update(Counter)
        .where(Counter.name == name)
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    if done is None:
        session.add(Counter(name=name, value=1))
    session.flush()


@dataclass(slots=True)
class TickReport:
    updates: int = 0
    closed_unconfirmed: int = 0
    sampled: int = 0
    erased: int = 0


@dataclass(slots=True)
class DeskStats(TickerStats):
    updates: int = 0
    closed_unconfirmed: int = 0
    sampled: int = 0
    erased: int = 0


class ServiceDesk(Ticked):
    """The desk's settings and limits, and its ticker (`cloud-desk`) once entered."""

    def __init__(
        self, db: Database | None, config: DeskConfig, settings: CloudSettings, *, clock: Clock
    ) -> None:
        self.db = db
        self.config = config
        self.clock = clock
        self.limits = ReportLimits(
            per_address=settings.request_rate_per_address,
            per_location=settings.request_rate_per_location,
            window_s=settings.request_rate_window_s,
        )
        self.stats = DeskStats()
        self.ticker: Ticker[TickReport] = Ticker(
            "cloud-desk",
            self.tick,
            interval=settings.request_interval_s,
            what="service desk ticker",
            clock=clock,
            stats=self.stats,
        )

    def tick(self) -> TickReport:
        """One round of the desk's periodic work, each step in its own transaction; in turn
        with any other process's desk, so each job event is told to its reporter once."""
        if self.db is None:
            raise RuntimeError("the service desk has no database")
        with turn(self.db, "cloud-desk"):
            return self._tick(self.db)

    def _tick(self, db: Database) -> TickReport:
        now = self.clock()
        config = self.config
        report = TickReport()
        with db.session() as session:
            report.updates = sync(session, config)
        with db.session() as session:
            report.closed_unconfirmed = close_unanswered(session, config, now=now)
        with db.session() as session:
            report.sampled = sample_closed(session, now=now, share_pct=config.follow_up_pct)
        with db.session() as session:
            report.erased = erase_expired(session, now=now, retention=config.retention)
        s = self.stats
        s.updates += report.updates
        s.closed_unconfirmed += report.closed_unconfirmed
        s.sampled += report.sampled
        s.erased += report.erased
        if report.closed_unconfirmed or report.erased:
            log.info(
                "service desk: %d jobs closed unconfirmed, %d contacts erased",
                report.closed_unconfirmed,
                report.erased,
            )
        return report
