"""TCP port checks shared by every process that listens: is a port free, find a free one."""

from __future__ import annotations

import socket

from plantroom.errors import PortInUseError


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError:
            return False
        return True


def ensure_port_free(what: str, host: str, port: int) -> None:
    if not port_is_free(host, port):
        raise PortInUseError(what, host, port)
