"""What the gateway benchmark runs: its targets, the ceiling's and the run's lengths and limits,
the sampling, and the core the gateway is pinned to."""

from __future__ import annotations

from pathlib import Path

from plantroom.settings import GatewaySettings

ROOT = Path(__file__).resolve().parent.parent

TARGET_POINTS_S = 100_000
TARGET_SHARE = 0.45

# the gateway's defaults, which the ceiling's batches match
BATCH_LINES = int(GatewaySettings.model_fields["gateway_batch_size"].default)
IN_FLIGHT = int(GatewaySettings.model_fields["gateway_max_in_flight"].default)

CEILING_WRITERS = 3
CEILING_S = 6.0
CEILING_MAX_BATCHES = 300

PUBLISH_S = 30.0
MAX_MESSAGES = 2_000_000
DRAIN_LIMIT_S = 60.0
SAMPLE_S = 0.25
WARM_UP_S = 2.0  # left out of the steady state: connections, caches, first batches
PROFILE_S = 8  # the last seconds of publishing, sampled by py-spy when it is installed
PROFILE_RATE = 100
QUIET_CORES = 0.25  # other work above this during a run is called out in the report

GATEWAY_CORE = 1
