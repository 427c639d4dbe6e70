"""A message to a contractor's shared address (pure): it greets the company, links the job's
page (sign in to acknowledge), and promises no personal one-time link, in English and
Simplified Chinese."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from cloud.notify.channels import Style
from cloud.notify.templates import Templates
from tests.cloud.notify.harness import job

T = Templates(ZoneInfo("Asia/Shanghai"))
PAGE = "https://plantroom.example.com/#/jobs/7"


@pytest.mark.parametrize(
    ("language", "style", "says", "not_said"),
    [
        ("en", Style.EMAIL, "sign in to acknowledge", "for you alone"),
        ("en", Style.CHAT, "sign in to acknowledge", "Open and acknowledge"),
        ("zh", Style.EMAIL, "登录后确认", "仅限您本人"),
        ("zh", Style.CHAT, "登录后确认", "打开并确认"),
    ],
)
def test_a_shared_address_is_sent_the_jobs_page(
    language: str, style: Style, says: str, not_said: str
) -> None:
    shared = T.render(
        style,
        language=language,
        jobs=[replace(job(), link=PAGE)],
        kind="dispatched",
        person="Harbour Lift Services Ltd",
        shared=True,
    )
    assert says in shared.body and not_said not in shared.body
    assert PAGE in shared.body
    personal = T.render(style, language=language, jobs=[job()], kind="dispatched", person="Ann")
    assert not_said in personal.body and says not in personal.body
