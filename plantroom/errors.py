"""Plantroom's own exception hierarchy. Library errors are translated at one boundary."""

from __future__ import annotations


class PlantroomError(Exception):
    """Base of every error Plantroom raises on purpose."""


class ConfigError(PlantroomError):
    """A configuration, inventory or profile file is invalid. The message names where."""


class InvalidMessage(PlantroomError):
    """An MQTT message failed validation at a consumer's boundary."""

    def __init__(self, topic: str, reason: str) -> None:
        super().__init__(f"{topic}: {reason}")
        self.topic = topic
        self.reason = reason


class BrokerUnavailable(PlantroomError):
    """The MQTT broker could not be reached, refused the connection or a subscription, or the
    connection was lost (no answer in time, a PUBACK overdue, a socket error)."""


class ServiceError(PlantroomError):
    """A managed server (mosquitto, influxd) could not be started or did not become ready."""


class PortInUseError(ServiceError):
    """A port Plantroom was told to use is already taken."""

    def __init__(self, what: str, host: str, port: int) -> None:
        super().__init__(
            f"{what} port {host}:{port} is already in use; stop whatever holds it or choose "
            f"another port (see `plantroom demo --help`)"
        )
        self.what = what
        self.host = host
        self.port = port
