"""Errors of the dashboards package, all under Plantroom's own hierarchy."""

from __future__ import annotations

from plantroom.errors import PlantroomError


class DashboardError(PlantroomError):
    """A dashboard could not be generated, checked or written."""


class GrafanaError(DashboardError):
    """Talking to Grafana failed. The message names the Grafana and what it answered."""


class GrafanaUnreachable(GrafanaError):
    """Grafana did not answer: wrong URL, not running, or the network is in the way."""


class GrafanaAuthError(GrafanaError):
    """Grafana refused the credentials or the permission to save dashboards."""
