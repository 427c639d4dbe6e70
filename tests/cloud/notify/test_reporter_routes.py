"""Which channel tells a reporter: the site's list in order, or e-mail for an e-mail and SMS
for a phone; a listed channel that is not configured fails naming it."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from cloud.notify.channels import Channel, Style
from cloud.notify.reporters import reporter_channels, route
from cloud.requests.updates import ReporterMessage
from plantroom.errors import ConfigError

CHANNELS = {
    "wecom": Channel("wecom", "wecombot://{address}", Style.CHAT, 60.0, 10),
    "sms": Channel("sms", "twilio://a:b@{address}", Style.SMS, 60.0, 10),
    "email": Channel("email", "mailto://x?to={address}", Style.EMAIL, 60.0, 10),
}


def message(phone: str | None, email: str | None) -> ReporterMessage:
    return ReporterMessage(
        update_id=1,
        reference="r" * 43,
        kind="received",
        text="We received your report.",
        link="https://desk.example.com/track/" + "r" * 43,
        lang="en",
        name=None,
        phone=phone,
        email=email,
        at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_by_default_email_for_an_email_else_sms_for_a_phone() -> None:
    default = reporter_channels(CHANNELS, [])
    assert [c.name for c in default] == ["email", "sms"]
    both = route(message("+86 138-0013 8000", "ann@example.com"), default)
    assert both is not None and (both[0].name, both[1]) == ("email", "ann@example.com")
    phone = route(message("+86 138-0013 8000", None), default)
    assert phone is not None and (phone[0].name, phone[1]) == ("sms", "+8613800138000")
    assert route(message(None, None), default) is None
    assert route(message("+86 138 0013 8000", None), [CHANNELS["email"]]) is None


def test_a_site_list_is_tried_in_its_order() -> None:
    listed = reporter_channels(CHANNELS, ["sms", "email"])
    found = route(message("+8613800138000", "ann@example.com"), listed)
    assert found is not None and found[0].name == "sms"
    found = route(message(None, "ann@example.com"), listed)
    assert found is not None and found[0].name == "email"


def test_a_listed_channel_not_configured_is_named() -> None:
    with pytest.raises(ConfigError, match="PLANTROOM_REQUEST_REPORTER_CHANNELS: pager"):
        reporter_channels(CHANNELS, ["email", "pager"])
