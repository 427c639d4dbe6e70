"""Upload the dashboards to an existing Grafana through its HTTP API (grafana-client).

Every error of the client library is translated here, once, into a `GrafanaError` that names
the Grafana and says what to do.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from grafana_client.api import GrafanaApi
from grafana_client.client import (
    GrafanaClientError,
    GrafanaException,
    GrafanaTimeoutError,
    GrafanaUnauthorizedError,
)

from dashboards.errors import GrafanaAuthError, GrafanaError, GrafanaUnreachable
from dashboards.grafana import DATASOURCE_UID, FOLDER_TITLE, FOLDER_UID, JSON

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class Pushed:
    """One dashboard saved in Grafana."""

    uid: str
    title: str
    url: str
    version: int | None


@dataclass(frozen=True)
class PushReport:
    dashboards: list[Pushed]
    folder_uid: str
    datasource_found: bool


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise GrafanaError(
            f"Grafana URL {url!r} is not an http(s) URL; expected e.g. http://localhost:3000"
        )
    return url.rstrip("/")


class GrafanaPublisher:
    """Saves dashboards into one folder of one Grafana, overwriting by uid."""

    def __init__(self, url: str, token: str, *, timeout: float = 10.0) -> None:
        if not token.strip():
            raise GrafanaAuthError(
                "no Grafana token given; create a service account token with the Editor role "
                "and pass it with --token"
            )
        self.url = _check_url(url)
        self._api = GrafanaApi.from_url(url=self.url, credential=token, timeout=timeout)

    def close(self) -> None:
        self._api.client.s.close()

    def __enter__(self) -> GrafanaPublisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, what: str, call: Callable[[], T]) -> T:
        """Run one API call; translate every failure into a GrafanaError naming `what`."""
        where = f"Grafana at {self.url}"
        try:
            return call()
        except GrafanaUnauthorizedError as exc:
            raise GrafanaAuthError(
                f"{where} refused the token while trying to {what} (401 Unauthorized); "
                "check --token"
            ) from exc
        except GrafanaTimeoutError as exc:
            raise GrafanaUnreachable(f"{where} did not answer in time to {what}: {exc}") from exc
        except GrafanaClientError as exc:
            if exc.status_code == 403:
                raise GrafanaAuthError(
                    f"{where} denied permission to {what} (403 Forbidden); the token needs "
                    "the Editor role or dashboard write permission"
                ) from exc
            hint = ""
            if "provisioned" in _message(exc).lower():
                hint = (
                    "; this Grafana loads the Plantroom dashboards from provisioned files, "
                    "so update those (`plantroom dashboards build`) instead of pushing"
                )
            raise GrafanaError(
                f"{where} rejected the request to {what}: {_message(exc)}{hint}"
            ) from exc
        except GrafanaException as exc:
            status = f"{exc.status_code} " if exc.status_code else ""
            raise GrafanaError(f"{where} failed to {what}: {status}{_message(exc)}") from exc
        except OSError as exc:  # connection refused, DNS, TLS (niquests errors are OSErrors)
            raise GrafanaUnreachable(
                f"cannot reach {where} to {what}: {exc}; is Grafana running and the URL right?"
            ) from exc
        except ValueError as exc:  # a body that is not JSON: not a Grafana API
            raise GrafanaError(
                f"{where} did not answer like Grafana's HTTP API when trying to {what}: {exc}"
            ) from exc

    def _exists(self, what: str, look_up: Callable[[], Any]) -> bool:
        """Whether `look_up` finds it: False on a 404, GrafanaError on any other failure."""
        try:
            self._call(f"look up {what}", look_up)
        except GrafanaError as exc:
            cause = exc.__cause__
            if isinstance(cause, GrafanaClientError) and cause.status_code == 404:
                return False
            raise
        return True

    def _folder_exists(self, uid: str) -> bool:
        return self._exists(f"folder {uid!r}", lambda: self._api.folder.get_folder(uid))

    def ensure_folder(self, uid: str = FOLDER_UID, title: str = FOLDER_TITLE) -> None:
        if not self._folder_exists(uid):
            self._call(
                f"create folder {title!r}",
                lambda: self._api.folder.create_folder(title, uid=uid),
            )
            log.info("created Grafana folder %s (%s)", title, uid)

    def datasource_exists(self, uid: str = DATASOURCE_UID) -> bool:
        return self._exists(
            f"datasource {uid!r}", lambda: self._api.datasource.get_datasource_by_uid(uid)
        )

    def save(self, dashboard: JSON, folder_uid: str = FOLDER_UID) -> Pushed:
        uid = str(dashboard.get("uid", ""))
        body = {
            "dashboard": {**dashboard, "id": None},
            "folderUid": folder_uid,
            "overwrite": True,
            "message": "plantroom dashboards push",
        }
        answer: Any = self._call(
            f"save dashboard {uid!r}", lambda: self._api.dashboard.update_dashboard(body)
        )
        if not isinstance(answer, dict):
            raise GrafanaError(f"Grafana at {self.url} answered {answer!r} when saving {uid!r}")
        version = answer.get("version")
        return Pushed(
            uid=str(answer.get("uid", uid)),
            title=str(dashboard.get("title", uid)),
            url=f"{self.url}{answer.get('url', '')}",
            version=version if isinstance(version, int) else None,
        )


def _message(exc: GrafanaException) -> str:
    response = exc.response
    if isinstance(response, dict) and response.get("message"):
        return str(response["message"])
    return str(exc.message)


def push_dashboards(
    dashboards: Sequence[JSON],
    grafana_url: str,
    token: str,
    *,
    folder_uid: str = FOLDER_UID,
    folder_title: str = FOLDER_TITLE,
    timeout: float = 10.0,
) -> PushReport:
    """Save every dashboard into the folder (created if missing), overwriting by uid."""
    with GrafanaPublisher(grafana_url, token, timeout=timeout) as grafana:
        grafana.ensure_folder(folder_uid, folder_title)
        pushed = [grafana.save(d, folder_uid) for d in dashboards]
        found = grafana.datasource_exists(DATASOURCE_UID)
    return PushReport(pushed, folder_uid, found)
