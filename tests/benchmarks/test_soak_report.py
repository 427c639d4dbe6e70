"""The soak's pure figures: least-squares growth, tenths, verdicts, the report and its CSV."""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

import pytest

from benchmarks.campus_report import PollTally
from benchmarks.pages import put_section, sections
from benchmarks.soak_params import QUEUE_NOISE_PER_H, RSS_NOISE_MIB_PER_H
from benchmarks.soak_report import (
    Fit,
    Sample,
    SoakResults,
    fit,
    growth,
    load_json,
    other_cores,
    report,
    save_json,
    silence,
    spans,
    tally_between,
    verdict,
    write_csv,
)

HOUR = 3600.0


def _samples(
    rss_per_h: dict[str, float], queue_per_h: float = 0.0, noise: float = 0.0, seed: int = 1
) -> list[Sample]:
    """An hour of 10 s samples: each process's RSS rising at its rate from 100 MiB; the cloud's
    queue rising at `queue_per_h` from 5; every process using 0.1 core, the machine 0.5 more."""
    rng = random.Random(seed)
    out = []
    for i in range(361):
        t = i * 10.0
        h = t / HOUR
        rss = {n: 100.0 + rate * h + rng.uniform(-noise, noise) for n, rate in rss_per_h.items()}
        cpu = {n: 0.1 * t for n in rss_per_h}
        cpu["bench"] = 0.01 * t
        cpu["machine"] = (0.1 * len(rss_per_h) + 0.01 + 0.5) * t
        queue = {"cloud": 5.0 + queue_per_h * h, "edge-b01": 0.0}
        out.append(Sample(t, rss, queue, cpu, faults=i // 3, fault_timeouts=0))
    return out


def test_fit_recovers_an_exact_slope_per_hour() -> None:
    f = fit([(t, 50.0 + 6.0 * t / HOUR) for t in range(0, 3601, 10)])
    assert f is not None
    assert f.slope == pytest.approx(6.0)
    assert f.stderr == pytest.approx(0.0, abs=1e-9)
    assert f.n == 361


def test_fit_leaves_out_gone_samples_and_needs_three_times() -> None:
    f = fit([(0.0, 1.0), (10.0, math.nan), (20.0, 3.0), (40.0, 5.0)])
    assert f is not None and f.n == 3
    assert fit([(0.0, 1.0), (10.0, 2.0)]) is None
    assert fit([(5.0, 1.0), (5.0, 2.0), (5.0, 3.0)]) is None


def test_verdict_needs_the_threshold_and_two_standard_errors() -> None:
    assert verdict(Fit(10.0, 1.0, 100), 2.0) == "**grows**"
    assert verdict(Fit(-10.0, 1.0, 100), 2.0) == "shrinks"
    assert verdict(Fit(1.5, 0.1, 100), 2.0) == "no growth beyond noise"
    assert verdict(Fit(10.0, 6.0, 100), 2.0) == "no growth beyond noise"
    assert verdict(None, 2.0) == "too few samples"


def test_growth_is_fitted_over_the_second_half_only() -> None:
    # steep during warm-up, flat after half an hour
    samples = [
        Sample(t, {"cloud": 100.0 + min(t, HOUR / 2) / 10}, {}, {}) for t in range(0, 3601, 10)
    ]
    f = growth(samples, HOUR, "rss", "cloud")
    assert f is not None
    assert f.slope == pytest.approx(0.0, abs=1e-9)
    assert f.n == 181


def test_spans_cut_the_window_in_tenths() -> None:
    cut = spans(HOUR)
    assert len(cut) == 10
    assert cut[0] == (0.0, 360.0)
    assert cut[-1] == (3240.0, HOUR)
    with pytest.raises(ValueError, match="0 s window"):
        spans(0.0)


def test_tally_between_takes_the_first_and_last_report_inside() -> None:
    points = [(t, PollTally(polls=t, on_schedule=t - t // 100)) for t in range(0, 1001, 5)]
    assert tally_between(points, 100, 200) == PollTally(polls=100, on_schedule=99)
    assert tally_between(points, 2000, 3000) == PollTally()


def test_other_cores_is_what_the_machine_did_besides_us() -> None:
    a, b = _samples({"sim": 0.0, "cloud": 0.0})[0], _samples({"sim": 0.0, "cloud": 0.0})[6]
    assert other_cores(a, b, ["sim", "cloud"]) == pytest.approx(0.5)
    assert math.isnan(other_cores(b, b, ["sim"]))


def test_report_names_growth_and_noise() -> None:
    r = SoakResults(
        window_s=HOUR,
        startup_s=12.0,
        samples=_samples({"sim": 0.0, "cloud": 10.0, "gateway": 1.0}, noise=0.5),
        polls={"edge-b01": [(t, PollTally(polls=t, on_schedule=t)) for t in range(0, 3601, 5)]},
        fault_poll_ms=[float(v) for v in range(120)],
        load_avg=(1.5, 1.0, 1.0),
    )
    text = report(r)
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()}
    assert rows["cloud"].endswith("| **grows** |")
    slope = float(rows["cloud"].split(" | ")[-2].split(" ± ")[0])
    assert slope == pytest.approx(10.0, abs=0.3)
    assert rows["cloud intake"].endswith("| no growth beyond noise |")
    assert rows["sim"].endswith("| no growth beyond noise |")
    assert rows["gateway"].endswith("| no growth beyond noise |")  # 1 MiB/h: under threshold
    assert "| 60 min |" in text
    assert "growth in cloud RSS" in text
    assert "0.50 cores" in text
    assert f"{RSS_NOISE_MIB_PER_H:g} MiB/h" in text and f"{QUEUE_NOISE_PER_H:g} queued/h" in text
    assert "100.00 %" in text
    assert "not shown" in text  # no mosquitto figure in these samples
    assert "shortened" not in text


def test_report_flags_a_growing_queue_and_a_short_run() -> None:
    samples = [s for s in _samples({"sim": 0.0}, queue_per_h=600.0) if s.t <= 600]
    text = report(SoakResults(window_s=600.0, samples=samples))
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()}
    assert rows["cloud intake"].endswith("| **grows** |")
    assert rows["sim"].endswith("| no growth beyond noise |")
    assert rows["edge-b01 buffer"].endswith("| no growth beyond noise |")
    assert "growth in cloud's queue" in text
    assert "| 600 s |" in text
    assert "shortened run (600 s" in text
    with pytest.raises(ValueError, match="no samples"):
        report(SoakResults(window_s=600.0))


def test_write_csv_has_a_row_per_process_and_sample(tmp_path: Path) -> None:
    r = SoakResults(window_s=HOUR, samples=_samples({"sim": 0.0}, queue_per_h=36.0)[:2])
    path = tmp_path / "bench" / "soak.csv"
    write_csv(r, path)
    rows = list(csv.DictReader(path.read_text().splitlines()))
    assert [(row["t_s"], row["process"]) for row in rows[:5]] == [
        ("0.0", "sim"),
        ("0.0", "cloud"),
        ("0.0", "edge-b01"),
        ("0.0", "bench"),
        ("0.0", "machine"),
    ]
    assert rows[5]["t_s"] == "10.0"
    assert rows[5]["rss_mib"] == "100.00" and rows[6]["queue_depth"] == "5.1"


def test_put_section_replaces_in_place_and_appends_new_ones() -> None:
    page = "# Reliability\n\nintro\n"
    once = put_section(page, "soak", "first\n")
    assert once.startswith("# Reliability\n\nintro\n\n<!-- bench:soak -->\nfirst\n")
    twice = put_section(once + "\ntail\n", "soak", "second\n")
    assert sections(twice) == {"soak": "second\n"}
    assert twice.endswith("<!-- /bench:soak -->\n\ntail\n")
    with pytest.raises(ValueError, match="section name"):
        put_section(page, "so ak", "x")


def test_a_queue_at_its_bound_is_named_whatever_its_slope() -> None:
    samples = [
        Sample(t, {"cloud": 100.0}, {"cloud": min(10_000.0, t * 10)}, {})
        for t in range(0, 3601, 10)
    ]
    text = report(SoakResults(window_s=HOUR, samples=samples, bounds={"cloud": 10_000.0}))
    rows = {line.split(" | ")[0].strip("| "): line for line in text.splitlines()}
    assert (
        "no growth beyond noise; **at its bound** (10,000) in 72 % of samples"
        in rows["cloud intake"]
    )
    assert "At its bound at times: cloud's queue" in text


def test_results_survive_a_round_trip_through_json(tmp_path: Path) -> None:
    r = SoakResults(
        window_s=HOUR,
        startup_s=3.0,
        samples=_samples({"sim": 1.0})[:3],
        polls={"edge-b01": [(0.0, PollTally(1, 1, 0, 0, 0)), (5.0, PollTally(9, 8, 1, 0, 0))]},
        fault_poll_ms=[12.5],
        load_avg=(1.0, 2.0, 3.0),
        bounds={"cloud": 10_000.0},
        ended=1.7e9,
        took_s=100.0,
    )
    path = tmp_path / "soak.json"
    save_json(r, path)
    assert load_json(path) == r
    path.write_text('{"window_s": 1}')
    with pytest.raises(ValueError, match=r"soak\.json: not a soak's results"):
        load_json(path)


def test_a_full_cloud_queue_explains_the_brokers_growth() -> None:
    samples = [
        Sample(
            t,
            {"cloud": 100.0, "mosquitto": 10.0 + t / 100},
            {"cloud": 10_000.0, "mosquitto": 1000.0 + t},
            {},
        )
        for t in range(0, 3601, 10)
    ]
    text = report(SoakResults(window_s=HOUR, samples=samples, bounds={"cloud": 10_000.0}))
    assert "growth in mosquitto RSS, mosquitto's queue" in text
    assert "mosquitto's growth is the cloud's backlog" in text
    calm = [
        Sample(s.t, {"cloud": 100.0, "mosquitto": 10.0}, {"cloud": 10_000.0}, {}) for s in samples
    ]
    assert "backlog" not in report(SoakResults(window_s=HOUR, samples=calm, bounds={"cloud": 1e4}))


def test_silence_is_the_longest_gap_between_reports() -> None:
    points = [(t, PollTally()) for t in (5.0, 10.0, 15.0, 200.0, 205.0)]
    assert silence(points, 300.0) == 185.0
    assert silence([], 300.0) == 300.0
    samples = _samples({"sim": 0.0})
    loud = {"edge-b01": [(float(t), PollTally(t, t)) for t in range(0, 3601, 5)]}
    text = report(SoakResults(window_s=HOUR, samples=samples, polls=loud))
    assert "stopped arriving" not in text
    gap = {"edge-b01": [(t, tally) for t, tally in loud["edge-b01"] if not 600 < t < 900]}
    text = report(SoakResults(window_s=HOUR, samples=samples, polls=gap))
    assert "edge-b01's longest silence was 5.0 min" in text
    assert "1 of 1 agents" in text
