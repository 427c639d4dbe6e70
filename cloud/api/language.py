"""The language a caller reads: the one asked for, else their own (`PUT /api/me/language`),
with the site's time zone for times of day."""

from __future__ import annotations

from cloud.locale import Text, language_of
from cloud.rules.service import site_timezone
from cloud.state import AppState
from cloud.users.model import User


def reader(state: AppState, user: User, asked: str | None = None) -> Text:
    return Text(asked or language_of(user.language), site_timezone(state.inventory.site.timezone))
