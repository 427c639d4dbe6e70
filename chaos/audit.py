"""Accounting for readings and work: InfluxDB by `seq`, the cloud API for alarms and orders.

`audit_seqs` is pure: from the last `seq` of each piece of equipment before a fault, the last
one after recovery and every `seq` InfluxDB holds in between, it counts what was expected,
found, lost (with the gaps) and duplicated (one `seq` stored at two timestamps).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx

from plantroom.errors import ServiceError

KINDS = ("elevator", "pump", "lighting", "fire_panel")
_FROM = ",".join(f'"{k}"' for k in KINDS)
LIVE_STATUSES = ("open", "acknowledged", "in_progress", "on_hold")


@dataclass(frozen=True)
class SeqAudit:
    expected: int
    found: int
    duplicates: int
    gaps: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    @property
    def lost(self) -> int:
        return self.expected - self.found

    def describe_gaps(self, limit: int = 5) -> str:
        parts = []
        for eq, ranges in sorted(self.gaps.items())[:limit]:
            text = ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in ranges[:3])
            parts.append(f"{eq}: {text}")
        more = len(self.gaps) - limit
        return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def missing_ranges(values: Iterable[int], lo: int, hi: int) -> list[tuple[int, int]]:
    """The runs of integers in lo..hi that `values` lacks, as inclusive (first, last) pairs."""
    have = sorted({v for v in values if lo <= v <= hi})
    out: list[tuple[int, int]] = []
    expect = lo
    for v in have:
        if v > expect:
            out.append((expect, v - 1))
        expect = v + 1
    if expect <= hi:
        out.append((expect, hi))
    return out


def audit_seqs(
    before: Mapping[str, int], after: Mapping[str, int], seen: Mapping[str, Iterable[int]]
) -> SeqAudit:
    """Every `seq` from `before[eq]` to `after[eq]` must be in `seen[eq]` exactly once.

    Equipment without a reading before the fault counts from the first `seq` seen.
    Equipment that had readings before but none after counts as losing nothing it sent:
    recovery (every device reporting again) is checked separately.
    """
    expected = found = duplicates = 0
    gaps: dict[str, list[tuple[int, int]]] = {}
    for eq, hi in after.items():
        values = list(seen.get(eq, ()))
        lo = before.get(eq, min(values, default=hi))
        if hi < lo:
            continue
        window = [v for v in values if lo <= v <= hi]
        counts = Counter(window)
        expected += hi - lo + 1
        found += len(counts)
        duplicates += sum(n - 1 for n in counts.values())
        missing = missing_ranges(counts, lo, hi)
        if missing:
            gaps[eq] = missing
    return SeqAudit(expected, found, duplicates, gaps)


def silence_before(rows: Iterable[tuple[int, int]], at_ms: int) -> int | None:
    """Milliseconds from the last reading at or before `at_ms` to `at_ms` (rows: (ts, seq))."""
    last = max((ts for ts, _ in rows if ts <= at_ms), default=None)
    return None if last is None else at_ms - last


class Influx:
    """The InfluxQL queries the audit needs, over InfluxDB's v1 HTTP API."""

    def __init__(self, url: str, database: str, timeout: float = 30.0) -> None:
        self.url = url.rstrip("/")
        self.database = database
        self.timeout = timeout

    def query(self, q: str) -> list[dict[str, Any]]:
        try:
            resp = httpx.get(
                f"{self.url}/query",
                params={"db": self.database, "q": q, "epoch": "ms"},
                timeout=self.timeout,
            )
            resp.raise_for_status()
            body = resp.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise ServiceError(f"InfluxDB query {q!r} failed: {exc}") from exc
        result = body["results"][0]
        if "error" in result:
            raise ServiceError(f"InfluxDB refused {q!r}: {result['error']}")
        if result.get("partial"):
            raise ServiceError(f"InfluxDB answered {q!r} only in part (row limit)")
        series: list[dict[str, Any]] = result.get("series", [])
        return series

    def last_seq(self, since_ms: int | None = None) -> dict[str, tuple[int, int]]:
        """equipment → (ts, seq) of its newest reading (at or after `since_ms`)."""
        where = f" WHERE time >= {since_ms}ms" if since_ms is not None else ""
        out: dict[str, tuple[int, int]] = {}
        for s in self.query(f'SELECT last("seq") FROM {_FROM}{where} GROUP BY "equipment"'):
            ts, seq = s["values"][0]
            out[s["tags"]["equipment"]] = (int(ts), int(seq))
        return out

    def readings_since(self, since_ms: int) -> dict[str, list[tuple[int, int]]]:
        """equipment → every (ts, seq) at or after `since_ms`."""
        out: dict[str, list[tuple[int, int]]] = {}
        for s in self.query(
            f'SELECT "seq" FROM {_FROM} WHERE time >= {since_ms}ms GROUP BY "equipment"'
        ):
            rows = out.setdefault(s["tags"]["equipment"], [])
            rows.extend((int(ts), int(seq)) for ts, seq in s["values"] if seq is not None)
        return out


class Cloud:
    """Read-only calls on the cloud API with one user's token."""

    def __init__(
        self, base_url: str, token_source: Callable[[], str], timeout: float = 10.0
    ) -> None:
        """`token_source` is asked again when a token is refused (a restarted demo cloud
        issues new ones)."""
        self.base_url = base_url.rstrip("/")
        self.token_source = token_source
        self.token = token_source()
        self.timeout = timeout

    def _get(self, path: str, params: dict[str, str]) -> dict[str, Any]:
        for attempt in (1, 2):
            try:
                resp = httpx.get(
                    f"{self.base_url}{path}",
                    params=params,
                    headers={"Authorization": f"Bearer {self.token}"},
                    timeout=self.timeout,
                )
                if resp.status_code == 401 and attempt == 1:
                    self.token = self.token_source()
                    continue
                resp.raise_for_status()
                body: dict[str, Any] = resp.json()
                return body
            except (httpx.HTTPError, ValueError) as exc:
                raise ServiceError(f"cloud API {path} failed: {exc}") from exc
        raise ServiceError(f"cloud API {path} refused a fresh token")

    def _pages(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            body = self._get(path, {**params, "limit": "500", "offset": str(offset)})
            page: list[dict[str, Any]] = body["items"]
            items.extend(page)
            offset += len(page)
            if not page or offset >= int(body["total"]):
                return items

    def work_orders(self, since: datetime) -> list[dict[str, Any]]:
        return self._pages("/api/work-orders", {"from": since.isoformat()})

    def live_work_orders(self) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        for status in LIVE_STATUSES:
            out.extend(self._pages("/api/work-orders", {"status": status}))
        return out

    def active_alarms(self) -> list[dict[str, Any]]:
        return self._pages("/api/alarms", {"state": "active"})


def duplicate_work_orders(orders: Iterable[Mapping[str, Any]]) -> list[str]:
    """Numbers of the work orders that repeat another for the same equipment and rule."""
    seen: dict[tuple[str, str], str] = {}
    dups: list[str] = []
    for wo in sorted(orders, key=lambda w: int(w["id"])):
        if wo.get("kind") != "fault" or not wo.get("rule_id"):
            continue
        key = (str(wo.get("equipment_id")), str(wo["rule_id"]))
        if key in seen:
            dups.append(str(wo["number"]))
        else:
            seen[key] = str(wo["number"])
    return dups
