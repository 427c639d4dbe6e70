"""What the API benchmark runs: the backlog's size and mix, the load's rates and lengths, the
capacity search, the overload, the server's workers, the client's limits and the target."""

from __future__ import annotations

import os
from pathlib import Path

from cloud.enums import WorkOrderStatus

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = ROOT / "sites" / "demo.yaml"
WORK_ORDERS = 100_000
OPEN = 20_000  # jobs to acknowledge: a run that uses them all up stops with an error
RATE = 200.0  # requests a second in all (list and acknowledge in turn) of the fixed run
DURATION_S = float(os.environ.get("PLANTROOM_BENCH_API_SECONDS", "30"))  # its length
# Capacity: the highest rate whose served requests' p99 is within the target with at most
# MAX_SHED of them answered 503, found by steps of STEP_S seconds: from FIRST_RATE up by
# GROWTH until a step misses (twice in a row: a step that misses is run once more), then
# halving the gap until it is within PRECISION, in at most MAX_STEPS steps.
STEP_S = float(os.environ.get("PLANTROOM_BENCH_API_STEP_S", "5"))
FIRST_RATE = 150.0
GROWTH = 1.5
PRECISION = 1.1
MAX_STEPS = 10
MAX_SHED = 0.01
# Overload: OVERLOAD times the capacity for OVERLOAD_S, then at once CALM times it for CALM_S
# (how soon the answers are back to normal).
OVERLOAD, OVERLOAD_S = 2.0, 10.0
CALM, CALM_S = 0.5, 5.0
TECHNICIANS = 8
CHUNK = 5_000
TARGET_MS = 50.0
STATUSES = [  # the rest of the backlog: mostly finished work
    (WorkOrderStatus.CLOSED, 0.78),
    (WorkOrderStatus.RESOLVED, 0.08),
    (WorkOrderStatus.CANCELLED, 0.04),
    (WorkOrderStatus.IN_PROGRESS, 0.06),
    (WorkOrderStatus.ON_HOLD, 0.04),
]

WORKERS = int(os.environ.get("PLANTROOM_BENCH_API_WORKERS", str(os.cpu_count() or 1)))
SEQUENTIAL = 200  # requests of each kind sent one at a time
# The idle server's CPU (its SLA ticker and other background work), measured over QUIET_S once
# QUIET_AFTER_S have passed since it answered, before any other request.
QUIET_AFTER_S, QUIET_S = 5.0, 20.0

MAX_CONNECTIONS = 1024  # more than an open-loop run at these rates ever has in flight
# Connections idle this long are closed rather than reused: uvicorn closes them after 5 s, and
# a request sent just as it does would fail through no fault of the server's.
IDLE_S = 4.0
REQUEST_TIMEOUT_S = 10.0
