"""What the edge benchmark runs: the site's size, the windows' lengths, the cores, the targets
and the agent's poll counters it sums."""

from __future__ import annotations

import os
from pathlib import Path

from plantroom.health import DEVICE_COUNTERS

ROOT = Path(__file__).resolve().parent.parent

BUILDINGS, PER_KIND = 10, 25
WARMUP_S = float(os.environ.get("PLANTROOM_BENCH_EDGE_WARMUP", "8"))
MEASURE_S = float(os.environ.get("PLANTROOM_BENCH_EDGE_SECONDS", "60"))
BARE_WARMUP_S = 3.0
PROFILE_RATE = 100
HOST = "127.0.0.1"
AGENT_CORE, SERVICE_CORE = 1, 0
QUIET_CORES = 0.25  # other work above this during a window is called out in the report

TARGET_ON_SCHEDULE = 0.999
TARGET_OVERHEAD = 1.25
TARGET_RSS_MB = 150.0

# counters `EdgeAgent.poll_stats()` keeps per equipment (cumulative)
COUNTERS = DEVICE_COUNTERS
