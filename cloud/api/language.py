"""The language a caller reads: the one asked for, else their own (`PUT /api/me/language`),
with the site's time zone for times of day."""

from __future__ import annotations

from cloud.locale import Text, language_of
from cloud.rules.service import site_timezone
from cloud.state import AppState
from cloud.users.model import User


def text_in(state: AppState, language: str | None) -> Text:
    """`language` (a user's, or a language tag such as Accept-Language's; English when not
    Chinese) with the site's time zone."""
    return Text(language_of(language), site_timezone(state.inventory.site.timezone))


def reader(state: AppState, user: User, asked: str | None = None) -> Text:
    return text_in(state, asked or user.language)
