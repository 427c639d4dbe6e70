"""Messages in English and Simplified Chinese: the equipment, location, fault, priority, the
due time in the site's time zone and the link; an incident's message lists lift and fire
checks first; SMS stays short and keeps its link whole."""

from __future__ import annotations

from dataclasses import replace
from zoneinfo import ZoneInfo

from cloud.notify.channels import Style
from cloud.notify.templates import SMS_MAX, Templates
from tests.cloud.notify.harness import job

T = Templates(ZoneInfo("Asia/Shanghai"))


def test_english_email_names_everything_with_the_local_due_time() -> None:
    m = T.render(Style.EMAIL, language="en", jobs=[job()], kind="dispatched", person="Ann")
    assert m.html and m.title == "[Plantroom] WO-000007 urgent: Pump running dry"
    for text in ("Pump 1 (p1)", "tower-a, B2 plant room", "2026-03-01 16:30 CST", "urgent"):
        assert text in m.body
    assert 'href="https://plantroom.example.com/ack/WO-000007-token"' in m.body


def test_chinese_chat_and_sms() -> None:
    chat = T.render(Style.CHAT, language="zh", jobs=[job()], kind="escalated")
    assert (
        "工单超时" in chat.body
        and "加急" in chat.body
        and "2026-03-01 16:30" in chat.body.split("响应期限")[1]
    )
    assert "[打开并确认](https://plantroom.example.com/ack/WO-000007-token)" in chat.body
    assert "已超时" in chat.title and chat.title.endswith("Pump running dry")
    sms = T.render(Style.SMS, language="zh", jobs=[job()], kind="dispatched")
    assert "\n" not in sms.body and sms.body.endswith("/ack/WO-000007-token")


def test_an_unknown_language_falls_back_to_english_and_html_is_escaped() -> None:
    bad = job(equipment="<script>x</script>")
    m = T.render(Style.EMAIL, language="fr", jobs=[bad], kind="dispatched")
    assert "<script>" not in m.body and "&lt;script&gt;" in m.body and "Respond by" in m.body


def test_an_incident_is_one_message_with_lift_and_fire_checks_first() -> None:
    jobs = [
        job("WO-000001", "pump", "p1"),
        job("WO-000002", "fire_panel", "fp1"),
        job("WO-000003", "elevator", "lift1"),
    ]
    m = T.render(Style.CHAT, language="en", jobs=jobs, kind="dispatched", incident="Power lost")
    order = [m.body.index(n) for n in ("WO-000003", "WO-000002", "WO-000001")]
    assert order == sorted(order) and "3 job(s)" in m.title


def test_sms_is_bounded_and_keeps_the_link() -> None:
    long = replace(job(), title="x" * 1000)
    m = T.render(Style.SMS, language="en", jobs=[long], kind="dispatched")
    assert len(m.body) <= SMS_MAX and m.body.endswith(long.link)


def test_an_incident_sms_carries_the_leading_rows_link() -> None:
    # the lead row (the pump's) is not listed first, but its link is the one that
    # acknowledges the whole message
    jobs = [job("WO-000001", "pump", "p1"), job("WO-000003", "elevator", "lift1")]
    for language in ("en", "zh"):
        m = T.render(Style.SMS, language=language, jobs=jobs, kind="dispatched", incident="Out")
        assert m.body.endswith("/ack/WO-000001-token") and "WO-000003-token" not in m.body
        assert "WO-000003" in m.body  # the first check is named
