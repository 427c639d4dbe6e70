"""What the soak runs: the campus load for `PLANTROOM_BENCH_SOAK_S` seconds (an hour by default),
sampled every SAMPLE_S, and the thresholds below which a slope is called noise."""

from __future__ import annotations

import os

from benchmarks.campus_params import ROOT

DURATION_S = float(os.environ.get("PLANTROOM_BENCH_SOAK_S", "3600"))
FULL_DURATION_S = 3600.0
MIN_DURATION_S = 120.0
SAMPLE_S = 10.0
# a fire panel fault every 30 s: 120 in the hour, fewer than the 225 panels outside the
# traced building, so no panel is faulted twice
FAULT_EVERY_S = 30.0
PARTS = 10  # the report's columns: tenths of the run
# the slope is fitted over the second half of the run, after warm-up
FIT_FROM = 0.5
# growth smaller than these (or within two standard errors of the slope) is noise:
# 2 MiB/h is under 50 MiB a day; 100 queued messages an hour is one every 36 s
RSS_NOISE_MIB_PER_H = 2.0
QUEUE_NOISE_PER_H = 100.0
# mosquitto publishes this every `sys_interval` (10 s by default, left as it is)
SYS_STORED = "$SYS/broker/store/messages/count"
CSV_DIR = ROOT / "var" / "bench"
