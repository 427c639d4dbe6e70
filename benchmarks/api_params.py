"""What the API benchmark runs: the backlog's size and mix, the load's rates and length, the
server's workers, the client's limits and the target."""

from __future__ import annotations

import os
from pathlib import Path

from cloud.enums import WorkOrderStatus

ROOT = Path(__file__).resolve().parent.parent
INVENTORY = ROOT / "sites" / "demo.yaml"
WORK_ORDERS = 100_000
OPEN = 20_000  # enough never to run out of jobs to acknowledge
RATE = 100.0  # requests a second, per kind (list, acknowledge): 200 a second in all
# then the same at half the rate, to show where the target holds on the machine at hand
RATES = (RATE, RATE / 2)
DURATION_S = float(os.environ.get("PLANTROOM_BENCH_API_SECONDS", "30"))
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
SEQUENTIAL = 100  # requests of each kind sent one at a time

MAX_CONNECTIONS = 1024  # more than an open-loop run at these rates ever has in flight
# Connections idle this long are closed rather than reused: uvicorn closes them after 5 s, and
# a request sent just as it does would fail through no fault of the server's.
IDLE_S = 4.0
REQUEST_TIMEOUT_S = 10.0
