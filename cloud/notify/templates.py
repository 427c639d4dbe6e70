"""Messages to people, in their language (English or Simplified Chinese), from Jinja2
templates in `cloud/notify/templates/<language>/`:

    subject.txt   the e-mail subject and the chat title
    email.html    e-mail: HTML (Apprise adds the plain-text part)
    chat.md.j2    chat services: markdown
    sms.txt       SMS: one short line

and the messages to occupants who reported a problem (`reporter_subject.txt`,
`reporter_email.html`, `reporter_sms.txt`: the update's text, the tracking link and the
reference; chat channels take the SMS line).

Each message is about one or more jobs (one per job, or one per incident with the lift and
fire checks first) and names, per job: equipment, location, fault, priority, the due time in
the site's time zone, and the signed link that opens and acknowledges it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from cloud.notify.channels import Style

LANGUAGES = ("en", "zh")
FOLDER = Path(__file__).with_name("templates")
SMS_MAX = 300  # characters: two SMS parts of Chinese text, about four of Latin text
SUBJECT_MAX = 80  # characters of a reporter's update in the e-mail subject
# Lifts (people may be trapped) and fire panels first in an incident's message.
FIRST_KINDS = ("elevator", "fire_panel")


@dataclass(frozen=True, slots=True)
class JobFacts:
    """What a message says about one job."""

    number: str
    title: str
    priority: str
    equipment: str | None
    equipment_kind: str | None
    building: str | None
    location: str | None
    due_at: datetime | None
    link: str


@dataclass(frozen=True, slots=True)
class Rendered:
    title: str
    body: str
    html: bool


def first_checks(jobs: list[JobFacts]) -> list[JobFacts]:
    """Lifts and fire panels first, then the rest, each group in number order."""

    def key(job: JobFacts) -> tuple[int, str]:
        kind = job.equipment_kind or ""
        rank = FIRST_KINDS.index(kind) if kind in FIRST_KINDS else len(FIRST_KINDS)
        return rank, job.number

    return sorted(jobs, key=key)


def _short(body: str, link: str) -> str:
    """`body` cut to `SMS_MAX` characters, keeping the link (last) whole."""
    if len(body) <= SMS_MAX:
        return body
    return body[: SMS_MAX - len(link) - 2].rstrip() + "… " + link


class Templates:
    def __init__(self, timezone: tzinfo, folder: Path = FOLDER) -> None:
        self.timezone = timezone
        self._env = Environment(
            loader=FileSystemLoader(folder),
            autoescape=select_autoescape(enabled_extensions=("html",), default=False),
            undefined=StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )
        self._env.filters["local"] = self._local

    def _local(self, at: datetime | None) -> str:
        if at is None:
            return "-"
        return at.astimezone(self.timezone).strftime("%Y-%m-%d %H:%M %Z")

    def render(
        self,
        style: Style,
        *,
        language: str,
        jobs: list[JobFacts],
        kind: str,
        incident: str | None = None,
        person: str = "",
        shared: bool = False,
    ) -> Rendered:
        """The message about `jobs` (one, or an incident's) for `style` in `language`
        (English when the language has no templates). `jobs[0]` leads: its link is the one
        a short message (SMS) carries, and it acknowledges the others too. `shared`: to a
        contractor's own address, whose links open the jobs in the console (acknowledged
        there by whoever signs in), not acknowledge links."""
        if not jobs:
            raise ValueError("a message needs at least one job")
        lang = language if language in LANGUAGES else "en"
        ordered = first_checks(jobs) if incident else jobs
        values = {
            "jobs": ordered,
            "job": ordered[0],
            "kind": kind,
            "incident": incident,
            "person": person,
            "shared": shared,
            "link": jobs[0].link,
        }
        title = self._env.get_template(f"{lang}/subject.txt").render(values).strip()
        name = {Style.EMAIL: "email.html", Style.CHAT: "chat.md.j2", Style.SMS: "sms.txt"}[style]
        body = self._env.get_template(f"{lang}/{name}").render(values).strip()
        if style is Style.SMS:
            body = _short(" ".join(body.split()), jobs[0].link)
        return Rendered(title=title, body=body, html=style is Style.EMAIL)

    def reporter(
        self,
        style: Style,
        *,
        language: str,
        text: str,
        link: str,
        reference: str,
        name: str | None = None,
    ) -> Rendered:
        """The message telling a reporter `text` (already in their language, `en` or `zh`/
        `zh-CN`) with the tracking `link` and `reference`."""
        lang = "zh" if language.lower().startswith("zh") else "en"
        flat = " ".join(text.split())
        headline = flat if len(flat) <= SUBJECT_MAX else flat[: SUBJECT_MAX - 1].rstrip() + "…"
        values = {
            "text": text,
            "headline": headline,
            "link": link,
            "reference": reference,
            "name": name,
        }
        title = self._env.get_template(f"{lang}/reporter_subject.txt").render(values).strip()
        if style is Style.EMAIL:
            body = self._env.get_template(f"{lang}/reporter_email.html").render(values).strip()
            return Rendered(title=title, body=body, html=True)
        line = self._env.get_template(f"{lang}/reporter_sms.txt").render(values)
        return Rendered(title=title, body=_short(" ".join(line.split()), link), html=False)
