"""Times and months in query parameters: checked here, so a value out of range is a 422
naming the parameter rather than an overflow further in."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from cloud.clock import as_utc
from cloud.errors import InvalidInput

# What a query may ask about: far wider than any data, narrow enough that a period's
# arithmetic (a default 30 days before, a month's end) stays within what datetime holds.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])\Z")


def query_time(value: datetime | None, name: str) -> datetime | None:
    """An aware time within [EARLIEST, LATEST), in UTC; InvalidInput naming `query.<name>`."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput(f"query.{name}: give a time zone, e.g. 2026-11-01T00:00:00Z")
    try:
        utc = as_utc(value)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc < LATEST:
        raise InvalidInput(
            f"query.{name}: {value.isoformat()} is out of range "
            f"({EARLIEST:%Y-%m-%d} to {LATEST:%Y-%m-%d} UTC)"
        )
    return utc


def query_month(value: str, name: str = "month") -> str:
    """`YYYY-MM` with a year in the range of `query_time`; InvalidInput naming the parameter."""
    match = MONTH.match(value)
    if match is None:
        raise InvalidInput(f"query.{name}: {value!r} is not YYYY-MM, e.g. 2026-11")
    if not EARLIEST.year <= int(match.group(1)) < LATEST.year:
        raise InvalidInput(
            f"query.{name}: {value!r} is out of range ({EARLIEST.year} to {LATEST.year - 1})"
        )
    return value
