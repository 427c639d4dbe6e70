"""What an in-app notification says (`GET /api/me/notifications`), in its reader's language.

A dispatch, an escalation and a digest keep the facts they tell (`Notification.facts`: the
job's number, priority, building, location and title; the late clock, its due time and the
escalation stage; a digest's jobs), and the sentence is written from them where it is read:
in the caller's language, times in the site's time zone, a shipped plan's or rule's title
translated (cloud/locale/shipped.py). The English sentence in UTC is stored as well
(`Notification.message`, the record), and is what a row older than its facts shows.

    facts = escalated_facts(wo, clock="acknowledge", due=due, stage=1, level=Stage.BACKUP)
    sentence("escalated", facts, Text("en", ZoneInfo("Asia/Shanghai")))
    # WO-000007 (urgent) in b1: Pump discharge pressure low: pump-1, not acknowledged by
    # March 10, 2026, 5:05 PM (stage 1: the backup)
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from typing import Any

from cloud.enums import Priority
from cloud.locale import N_, Text
from cloud.locale.composed import Written, register_writer
from cloud.locale.labels import priority
from cloud.locale.shipped import location as location_words
from cloud.locale.shipped import shipped
from cloud.sla.policy import Stage
from cloud.workorders.model import WorkOrder

LISTED = 20  # jobs named in one digest message; the rest are counted
MAX_FACT = 200  # characters kept of one job's title, building or location

# a job as a notification names it, by whether it has a building and a location
JOB = {
    (True, True): N_("{number} ({priority}) in {building} at {location}: {title}"),
    (True, False): N_("{number} ({priority}) in {building}: {title}"),
    (False, True): N_("{number} ({priority}) at {location}: {title}"),
    (False, False): N_("{number} ({priority}): {title}"),
}
# an escalation, by the clock that ran out
ESCALATED = {
    "acknowledge": N_("{job}, not acknowledged by {due} (stage {n}: {level})"),
    "on_site": N_("{job}, nobody on site by {due} (stage {n}: {level})"),
    "complete": N_("{job}, not completed by {due} (stage {n}: {level})"),
}
NO_DUE = N_("its due time")
LEVELS = {
    Stage.ASSIGNEE: N_("the assignee"),
    Stage.TEAM: N_("the team"),
    Stage.BACKUP: N_("the backup"),
    Stage.SUPERVISOR: N_("the supervisor"),
    Stage.MANAGER: N_("the manager"),
}
DIGEST = N_("Daily digest, {n} job(s): {jobs}")
DIGEST_MORE = N_("{jobs}; and {more} more")
LIST = N_("{jobs}; {job}")  # one more job in a digest's list
UTC = N_("{time} UTC")  # a time in the record, which is kept in UTC


def job_facts(wo: WorkOrder) -> dict[str, str | None]:
    return {
        "number": wo.number,
        "priority": wo.priority.value,
        "building": _bounded(wo.building),
        "location": _bounded(wo.location),
        "title": _bounded(wo.title),
    }


def dispatched_facts(wo: WorkOrder) -> dict[str, Any]:
    return {"job": job_facts(wo)}


def escalated_facts(
    wo: WorkOrder, *, clock: str, due: dt.datetime | None, stage: int, level: Stage
) -> dict[str, Any]:
    if clock not in ESCALATED:
        raise ValueError(f"clock {clock!r}: expected one of {', '.join(ESCALATED)}")
    return {
        "job": job_facts(wo),
        "clock": clock,
        "due": due.isoformat() if due is not None else None,
        "stage": stage,
        "level": level.value,
    }


def digest_facts(jobs: Sequence[WorkOrder]) -> dict[str, Any]:
    return {"jobs": [job_facts(wo) for wo in jobs[:LISTED]], "count": len(jobs)}


def sentence(kind: str, facts: Mapping[str, Any], text: Text) -> str:
    """The notification of `kind` (dispatched, escalated, digest) from its `facts`, in
    `text`'s language. Facts that are not what `kind` keeps are a KeyError, TypeError or
    ValueError naming what was wrong."""
    if kind == "dispatched":
        return _job(facts["job"], text)
    if kind == "escalated":
        clock = str(facts["clock"])
        if clock not in ESCALATED:
            raise ValueError(f"escalated notification: unknown clock {clock!r}")
        due = facts["due"]
        return text._(ESCALATED[clock]).format(
            job=_job(facts["job"], text),
            due=_time(text, dt.datetime.fromisoformat(due)) if due else text._(NO_DUE),
            n=int(facts["stage"]),
            level=text._(LEVELS[Stage(facts["level"])]),
        )
    if kind == "digest":
        jobs = [_job(job, text) for job in facts["jobs"]]
        if not jobs:
            raise ValueError("digest notification: no jobs")
        listed = jobs[0]
        for line in jobs[1:]:
            listed = text._(LIST).format(jobs=listed, job=line)
        count = int(facts["count"])
        if count > len(jobs):
            listed = text._(DIGEST_MORE).format(jobs=listed, more=count - len(jobs))
        return text._(DIGEST).format(n=count, jobs=listed)
    raise ValueError(f"notification kind {kind!r}: expected dispatched, escalated or digest")


def _job(job: Mapping[str, Any], text: Text) -> str:
    building, location = job.get("building"), job.get("location")
    return text._(JOB[bool(building), bool(location)]).format(
        number=job["number"],
        priority=priority(text, Priority(job["priority"])),
        building=building,
        location=location_words(text, location) if location else location,
        title=shipped(text, str(job["title"])),
    )


def _time(text: Text, at: dt.datetime) -> str:
    """`at` in the reader's time zone; in the record's (UTC), saying so."""
    shown = text.datetime(at)
    return text._(UTC).format(time=shown) if text.zone is dt.UTC else shown


def _bounded(value: str | None) -> str | None:
    return value[:MAX_FACT] if value else None


def written(kind: str, facts: Mapping[str, Any]) -> Written:
    """The notification of `kind` as a note of the job's trail, written for each reader."""
    return Written(f"{NOTE_WRITER}{kind}", facts)


NOTE_WRITER = "notification."
for _kind in ("dispatched", "escalated", "digest"):
    register_writer(f"{NOTE_WRITER}{_kind}", functools.partial(sentence, _kind))
