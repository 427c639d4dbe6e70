"""What talking to InfluxDB can fail with. httpx errors are translated into these in
`plantroom.influx.writer`, once."""

from __future__ import annotations

from plantroom.errors import ConfigError, PlantroomError


class InfluxError(PlantroomError):
    """InfluxDB answered in a way the caller cannot act on."""


class InfluxUnavailable(InfluxError):
    """InfluxDB cannot take writes now (down, overloaded, misconfigured). Retry later."""


class InfluxAuthError(ConfigError):
    """InfluxDB refused the configured credentials. The message says what to set."""
