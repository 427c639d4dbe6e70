"""What several benchmarks measure the same way: percentiles, a target's verdict, a block of free
ports, the gateway's counters, a process's resident memory, a simulator coming up, mosquitto and
influxd for a run, an MQTT client of the benchmark's own."""

from __future__ import annotations

import contextlib
import math
import os
import random
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from benchmarks.procstat import memory_kib
from plantroom.ports import port_is_free
from simulators.control import ControlClient
from simulators.errors import ControlError
from stack.services import Influxd, Mosquitto


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sequence."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    ordered = sorted(values)
    rank = math.ceil(q / 100 * len(ordered))
    return ordered[min(max(rank, 1), len(ordered)) - 1]


def parse_metrics(text: str) -> dict[str, float]:
    """The gateway's Prometheus text as {counter name without prefix/suffix: value}."""
    found: dict[str, float] = {}
    for row in text.splitlines():
        if row.startswith("plantroom_gateway_"):
            name, _, value = row.rpartition(" ")
            key = name.split("{", 1)[0].removeprefix("plantroom_gateway_").removesuffix("_total")
            found[key] = float(value)
    return found


def verdict(ok: bool) -> str:
    """A target's line in a report: met or MISSED."""
    return "met" if ok else "MISSED"


def port_block(count: int, host: str = "127.0.0.1") -> int:
    """The first of `count` consecutive ports free on `host`, from a random start (so that
    runs side by side do not race for the same block)."""
    rng = random.Random()
    for _ in range(500):
        base = rng.randrange(20000, 60000 - count)
        if all(port_is_free(host, base + i) for i in range(count)):
            return base
    raise RuntimeError(f"no {count} consecutive free ports")


def rss_mib(pid: int) -> float:
    kib = memory_kib(pid).get("VmRSS")
    return kib / 1024 if kib is not None else float("nan")


def wait_for_simulator(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    """Wait (60 s at most) until the `plantroom sim` started as `proc` answers on its control
    `url`; its `log`'s tail is in the error if it exits first."""
    deadline = time.monotonic() + 60
    while True:
        try:
            ControlClient(url, timeout=1).faults()
            return
        except ControlError:
            if proc.poll() is not None:
                raise RuntimeError(f"plantroom sim exited:\n{log.read_text()[-2000:]}") from None
            if time.monotonic() > deadline:
                raise RuntimeError("plantroom sim did not come up within 60 s") from None
            time.sleep(0.2)


@contextlib.contextmanager
def servers(work: Path) -> Iterator[tuple[Mosquitto, Influxd]]:
    """mosquitto and influxd with their data under `work`, stopped (influxd first) on leaving."""
    mosquitto = Mosquitto(work / "mosquitto")
    influxd = Influxd(work / "influxd")
    with mosquitto, influxd:
        yield mosquitto, influxd


def mqtt_client(host: str, port: int, name: str, *, in_flight: int | None = None) -> paho.Client:
    """A paho client `<name>-<pid>` connected to the broker at `host:port`, its network loop
    started. With `in_flight`, that many QoS 1 publishes may await their acknowledgement at
    once, with no bound on the queue behind them (a publisher that floods the broker)."""
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id=f"{name}-{os.getpid()}")
    if in_flight is not None:
        client.max_inflight_messages_set(in_flight)
        client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    return client
