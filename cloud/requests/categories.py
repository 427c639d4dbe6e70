"""Report categories: what someone may report, the trade whose team takes it, the urgency a
public report gets, and the category a report about a kind of equipment defaults to. Loaded
from `categories.yaml` (or the site's file), validated once."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cloud.enums import TRADE_OF_KIND, Priority, Trade
from cloud.errors import InvalidInput
from plantroom.yamlload import validate_file

SHIPPED = Path(__file__).resolve().parent / "categories.yaml"
CATEGORY = r"^[a-z][a-z0-9_]{0,31}\Z"
# The kind of equipment whose trade each trade is (to route by the shared team lookup).
KIND_OF_TRADE: dict[Trade, str] = {trade: kind for kind, trade in TRADE_OF_KIND.items()}


class Category(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    trade: Trade | None
    urgency: Priority = Priority.NORMAL
    kinds: tuple[str, ...] = Field(default=(), description="equipment kinds it is the default of")


class Categories(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    categories: dict[str, Category] = Field(min_length=1)

    @model_validator(mode="after")
    def _check(self) -> Categories:
        seen: dict[str, str] = {}
        for name, category in self.categories.items():
            if not re.match(CATEGORY, name):
                raise ValueError(f"category {name!r}: lower-case letters, digits and '_'")
            for kind in category.kinds:
                if kind in seen:
                    raise ValueError(
                        f"kind {kind!r} is the default of both {seen[kind]!r} and {name!r}"
                    )
                seen[kind] = name
        if "other" not in self.categories:
            raise ValueError("a category named 'other' is required (the fallback)")
        return self

    def get(self, name: str) -> Category:
        found = self.categories.get(name)
        if found is None:
            known = ", ".join(sorted(self.categories))
            raise InvalidInput(f"category: {name!r} is not one of {known}")
        return found

    def for_kind(self, kind: str | None) -> str:
        """The category a report about equipment of `kind` defaults to."""
        for name, category in self.categories.items():
            if kind in category.kinds:
                return name
        return "other"

    def routing_kind(self, name: str) -> str | None:
        """An equipment kind of the category's trade, for `route_team`; None without one."""
        trade = self.get(name).trade
        return None if trade is None else KIND_OF_TRADE.get(trade)


def load_categories(path: Path | None = None) -> Categories:
    """The shipped categories, or the site's file; errors name the file, line and field."""
    return validate_file(Categories, path or SHIPPED)
