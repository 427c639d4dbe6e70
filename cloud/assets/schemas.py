"""What the asset register takes: the register fields of any piece of equipment, a new
register-only asset, and a change to one. The CSV import validates its rows with the same
models, so a bad value gets the same message from a file as from the API."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

from cloud.assets.kinds import check_asset_kind
from plantroom.kinds import KINDS

# An asset's id: what its QR label carries (the public report page's location code).
ASSET_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
MAX_DOCUMENTS = 20
EARLIEST = date(1900, 1, 1)
LATEST = date(2199, 12, 31)
URL = re.compile(r"^https?://[^\s<>]{1,490}\Z")
TITLE_FORBIDDEN = re.compile(r"[<>;]")


def _iso_date(value: Any) -> Any:
    """An ISO date (YYYY-MM-DD) only: not a number, not a date and time."""
    if value is None or isinstance(value, date):
        return value
    if not isinstance(value, str):
        raise ValueError("a date is written YYYY-MM-DD")
    text = value.strip()
    if not text:
        return None
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a date; write YYYY-MM-DD") from None
    return parsed


def _blank_none(value: Any) -> Any:
    if isinstance(value, str) and not value.strip():
        return None
    return value


Day = Annotated[date | None, BeforeValidator(_iso_date)]
Text = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)] | None,
    BeforeValidator(_blank_none),
]


def check_asset_id(value: str) -> str:
    if not ASSET_ID.match(value):
        raise ValueError(f"{value[:70]!r}: letters, digits, '.', '_' or '-', at most 64")
    return value


AssetId = Annotated[str, AfterValidator(check_asset_id)]


class Document(BaseModel):
    """A document of the equipment: its manual, certificate or drawing, by address."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120)]
    url: Annotated[str, StringConstraints(strip_whitespace=True, max_length=500)]

    @field_validator("title")
    @classmethod
    def _title(cls, title: str) -> str:
        if TITLE_FORBIDDEN.search(title):
            raise ValueError("a document's title may not contain '<', '>' or ';'")
        return title

    @field_validator("url")
    @classmethod
    def _url(cls, url: str) -> str:
        if not URL.match(url):
            raise ValueError(f"{url[:80]!r} is not an http(s) address")
        return url


class RegisterFields(BaseModel):
    """The register's fields, on any piece of equipment. In a change, a field left out is
    kept and a field given as null (or an empty CSV cell) is cleared."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    make: Text = None
    model: Text = None
    serial: Text = None
    install_date: Day = None
    warranty_end: Day = None
    supplier: Text = None
    documents: list[Document] = Field(default_factory=list, max_length=MAX_DOCUMENTS)

    @field_validator("install_date", "warranty_end")
    @classmethod
    def _in_range(cls, value: date | None) -> date | None:
        if value is not None and not EARLIEST <= value <= LATEST:
            raise ValueError(f"{value.isoformat()} is not between 1900 and 2199")
        return value

    @field_validator("documents", mode="before")
    @classmethod
    def _no_documents(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("warranty_end")
    @classmethod
    def _warranty_after_install(cls, value: date | None, info: ValidationInfo) -> date | None:
        installed = info.data.get("install_date")
        if value is not None and isinstance(installed, date) and value < installed:
            raise ValueError(f"{value.isoformat()} is before install_date {installed.isoformat()}")
        return value


Location = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=64)] | None,
    BeforeValidator(_blank_none),
]
Floor = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=32)] | None,
    BeforeValidator(_blank_none),
]


def _known_kind(value: str | None) -> str | None:
    """A telemetry kind (as connected equipment's row of an exported file repeats it) or a
    register-only kind; whether it may be set is the register's check (cloud.assets.service)."""
    if value is not None and value not in KINDS:
        check_asset_kind(value)
    return value


AssetKindName = Annotated[
    Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)] | None,
    BeforeValidator(_blank_none),
]


class AssetChange(RegisterFields):
    """A change to a piece of equipment. Kind, building, floor, zone and name change only on
    register-only assets; the inventory owns those of connected equipment."""

    kind: AssetKindName = None
    building: Location = None
    floor: Floor = None
    zone: Location = None
    name: Text = None

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str | None) -> str | None:
        return _known_kind(value)

    def given(self) -> dict[str, Any]:
        """The fields the change sets (left-out fields are kept)."""
        return {name: getattr(self, name) for name in self.model_fields_set}


class AssetIn(AssetChange):
    """A new register-only asset."""

    id: AssetId
    kind: Annotated[str, StringConstraints(strip_whitespace=True, max_length=16)]
    building: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str | None) -> str | None:
        if value is not None:
            check_asset_kind(value)  # a telemetry kind comes from the inventory only
        return value


class AssetKindOut(BaseModel):
    model_config = ConfigDict(frozen=True)

    id: str
    title: str
    trade: str
    connected: bool = Field(description="a telemetry kind (from the inventory only)")


class ImportResult(BaseModel):
    model_config = ConfigDict(frozen=True)

    rows: int
    created: list[str]
    updated: list[str]
    unchanged: int
    dry_run: bool = Field(description="checked only: nothing was changed")
