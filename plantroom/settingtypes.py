"""What settings classes share: the base every group of settings derives from (the
`PLANTROOM_` prefix), and a list setting given as comma-separated text."""

from __future__ import annotations

import json
from typing import Annotated, Any

from pydantic import BeforeValidator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

ENV_PREFIX = "PLANTROOM_"


class SettingsGroup(BaseSettings):
    """A group of settings read from `PLANTROOM_*` variables; others are ignored and the values
    are frozen once read."""

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, extra="ignore", frozen=True)


def _text_list(value: Any) -> Any:
    """A list setting from the environment: a JSON list (`["a", "b"]`) or comma-separated
    text (`a,b`); blanks around items are dropped."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("["):
        return json.loads(text)
    return [item.strip() for item in text.split(",") if item.strip()]


# `NoDecode`: the text reaches `_text_list` as it is, not parsed as JSON first
TextList = Annotated[list[str], NoDecode, BeforeValidator(_text_list)]
