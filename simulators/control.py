"""The simulator's control endpoint (HTTP JSON) and its client.

    GET  /faults             {"kinds": {kind: [fault, ...]}, "gateway": [fault, ...],
                              "active": {equipment or gateway: [fault, ...]}}
    POST /inject             {"equipment": id, "fault": name, "params": {...}}  (params optional)
                             or {"gateway": "host:port" | serial device, "fault": ..., ...}
    POST /clear              {"equipment": id, "fault": name | null}            (null: all)
                             or {"gateway": ..., "fault": name | null}
    GET  /equipment          [{"id", "kind", "building", "powered", "faults"}, ...]
    GET  /equipment/{id}     the device's state: points, active faults, connection, detail
    GET  /gateways           {"gateways": [{"id", "framing", "transport", "units", ...}, ...]}
    POST /scenario           {"file": path on the simulator's machine}
                             or {"scenario": {...}, "source": name, "lines": {...}}
    GET  /scenarios          {"scenarios": [{"name", "applied", "steps", "done", "log"}, ...]}

Unknown equipment or gateway answers 404; an unknown fault or bad parameters answer 422 with
the valid choices in `detail`, and so does a scenario that does not fit the inventory.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
from collections.abc import Generator
from pathlib import Path
from typing import Annotated, Any, Protocol

import httpx
import uvicorn
from fastapi import Body, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, model_validator

from plantroom.errors import ConfigError, PortInUseError
from simulators.errors import (
    ControlError,
    InvalidFaultParams,
    SimulatorError,
    UnknownEquipment,
    UnknownFault,
    UnknownGateway,
)
from simulators.faults import TCP_GATEWAY_FAULTS, FaultTarget
from simulators.scenario import Scenario, load_scenario, scenario_from_request

log = logging.getLogger(__name__)


class Controllable(FaultTarget, Protocol):
    """What the endpoint drives: `simulators.runner.Simulation` in practice."""

    def fault_catalogue(self) -> dict[str, list[str]]: ...

    def active_faults(self) -> dict[str, list[str]]: ...

    def equipment_list(self) -> list[dict[str, Any]]: ...

    def equipment_state(self, equipment: str) -> dict[str, Any]: ...

    def gateway_list(self) -> list[dict[str, Any]]: ...

    def start_scenario(self, scenario: Scenario) -> dict[str, Any]: ...

    def scenario_list(self) -> list[dict[str, Any]]: ...


# -- server ----------------------------------------------------------------------------
class _Targeted(BaseModel):
    model_config = ConfigDict(extra="forbid")
    equipment: str | None = Field(default=None, min_length=1)
    gateway: str | None = Field(default=None, min_length=1)

    @model_validator(mode="after")
    def _one_target(self) -> _Targeted:
        if (self.equipment is None) == (self.gateway is None):
            raise ValueError("give either equipment or gateway")
        return self


class InjectRequest(_Targeted):
    fault: str = Field(min_length=1)
    params: dict[str, Any] | None = None


class ClearRequest(_Targeted):
    fault: str | None = None


class ScenarioRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    file: str | None = Field(default=None, min_length=1)
    scenario: dict[str, Any] | None = None
    source: str | None = None
    lines: dict[str, int] | None = None

    @model_validator(mode="after")
    def _one_source(self) -> ScenarioRequest:
        if (self.file is None) == (self.scenario is None):
            raise ValueError("give either file or scenario")
        return self


def create_app(sim: Controllable) -> FastAPI:
    """Thin routes over the simulation; all run on the event loop that ticks the models."""
    app = FastAPI(title="Plantroom simulator control", docs_url="/docs", redoc_url=None)

    @app.exception_handler(UnknownEquipment)
    @app.exception_handler(UnknownGateway)
    async def _not_found(request: Request, exc: SimulatorError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(UnknownFault)
    @app.exception_handler(InvalidFaultParams)
    @app.exception_handler(ConfigError)
    async def _unprocessable(request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=422)

    @app.get("/faults")
    async def faults() -> dict[str, Any]:
        return {
            "kinds": sim.fault_catalogue(),
            "gateway": [f.name for f in TCP_GATEWAY_FAULTS],
            "active": sim.active_faults(),
        }

    @app.post("/inject")
    async def inject(body: Annotated[InjectRequest, Body()]) -> dict[str, Any]:
        if body.gateway is not None:
            return sim.inject_gateway(body.gateway, body.fault, body.params)
        assert body.equipment is not None
        return sim.inject(body.equipment, body.fault, body.params)

    @app.post("/clear")
    async def clear(body: Annotated[ClearRequest, Body()]) -> dict[str, Any]:
        if body.gateway is not None:
            return sim.clear_gateway(body.gateway, body.fault)
        assert body.equipment is not None
        return sim.clear(body.equipment, body.fault)

    @app.get("/gateways")
    async def gateways() -> dict[str, Any]:
        return {"gateways": sim.gateway_list()}

    @app.post("/scenario")
    async def scenario(body: Annotated[ScenarioRequest, Body()]) -> dict[str, Any]:
        if body.file is not None:
            loaded = load_scenario(Path(body.file))
        else:
            loaded = scenario_from_request(body.model_dump())
        return sim.start_scenario(loaded)

    @app.get("/scenarios")
    async def scenarios() -> dict[str, Any]:
        return {"scenarios": sim.scenario_list()}

    @app.get("/equipment")
    async def equipment_list() -> list[dict[str, Any]]:
        return sim.equipment_list()

    @app.get("/equipment/{equipment_id}")
    async def equipment(equipment_id: str) -> dict[str, Any]:
        return sim.equipment_state(equipment_id)

    return app


class _Server(uvicorn.Server):
    """uvicorn without its signal handlers: the process that embeds it owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield


class ControlServer:
    """Serves the control app on a socket bound up front, so a taken port fails at start."""

    def __init__(self, app: FastAPI, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self._config = uvicorn.Config(
            app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=2,
        )
        self._server = _Server(self._config)
        self._sock: socket.socket | None = None

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def started(self) -> bool:
        return bool(self._server.started)

    def bind(self) -> None:
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((self.host, self.port))
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise PortInUseError("simulator control", self.host, self.port) from exc
            raise SimulatorError(
                f"cannot listen for control on {self.host}:{self.port}: {exc.strerror or exc}"
            ) from exc
        sock.listen(64)
        sock.setblocking(False)
        self._sock = sock

    async def serve(self) -> None:
        """Serve until cancelled; on cancel, shut uvicorn down gracefully."""
        if self._sock is None:
            self.bind()
        assert self._sock is not None
        task = asyncio.create_task(self._server.serve(sockets=[self._sock]), name="control-http")
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            self._server.should_exit = True
            await task
            raise
        finally:
            self._sock.close()


# -- client ----------------------------------------------------------------------------
class ControlClient:
    """Drives a running simulator's control endpoint (used by `plantroom sim inject`)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout

    def inject(
        self, equipment: str, fault: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self._inject({"equipment": equipment}, fault, params)

    def clear(self, equipment: str, fault: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/clear", {"equipment": equipment, "fault": fault})

    def inject_gateway(
        self, gateway: str, fault: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        return self._inject({"gateway": gateway}, fault, params)

    def clear_gateway(self, gateway: str, fault: str | None = None) -> dict[str, Any]:
        return self._call("POST", "/clear", {"gateway": gateway, "fault": fault})

    def _inject(
        self, target: dict[str, str], fault: str, params: dict[str, Any] | None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {**target, "fault": fault}
        if params:
            body["params"] = params
        return self._call("POST", "/inject", body)

    def gateways(self) -> list[dict[str, Any]]:
        found = self._call("GET", "/gateways").get("gateways")
        return found if isinstance(found, list) else []

    def scenario(self, scenario: Scenario) -> dict[str, Any]:
        """Start a loaded scenario on the simulator; its file's line numbers go along."""
        return self._call("POST", "/scenario", scenario.to_request())

    def scenarios(self) -> list[dict[str, Any]]:
        found = self._call("GET", "/scenarios").get("scenarios")
        return found if isinstance(found, list) else []

    def faults(self) -> dict[str, Any]:
        return self._call("GET", "/faults")

    def equipment(self, equipment: str) -> dict[str, Any]:
        return self._call("GET", f"/equipment/{equipment}")

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            with httpx.Client(base_url=self.url, timeout=self.timeout) as client:
                resp = client.request(method, path, json=body)
        except httpx.ConnectError as exc:
            raise ControlError(
                f"no simulator answering at {self.url} — is `plantroom sim` running?"
            ) from exc
        except httpx.TimeoutException as exc:
            raise ControlError(
                f"the simulator at {self.url} did not answer within {self.timeout:g}s"
            ) from exc
        except httpx.HTTPError as exc:
            raise ControlError(f"cannot reach the simulator at {self.url}: {exc}") from exc
        try:
            data = resp.json()
        except ValueError:
            data = None
        if resp.status_code >= 400:
            raise ControlError(_reason(resp.status_code, data, resp.text), resp.status_code)
        if not isinstance(data, dict):
            raise ControlError(f"{self.url}{path} did not answer with a JSON object")
        return data


def _reason(status: int, data: Any, text: str) -> str:
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list):  # request validation errors
        parts = []
        for err in detail:
            if isinstance(err, dict):
                where = ".".join(str(p) for p in err.get("loc", []) if p != "body")
                parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
        if parts:
            return "invalid request: " + "; ".join(parts)
    return f"simulator answered HTTP {status}: {text[:200]}"
