"""The soak's figures: what a run sampled (`SoakResults`), least-squares growth per hour over
the second half, per-tenth tables, the Markdown report and the raw samples as CSV."""

from __future__ import annotations

import csv
import json
import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from itertools import pairwise
from pathlib import Path

from benchmarks.campus_params import (
    BUILDINGS,
    HEALTH_INTERVAL_S,
    PER_KIND,
    QUIET_CORES,
    WARMUP_S,
)
from benchmarks.campus_report import PollTally
from benchmarks.measure import percentile
from benchmarks.soak_params import (
    FAULT_EVERY_S,
    FIT_FROM,
    FULL_DURATION_S,
    PARTS,
    QUEUE_NOISE_PER_H,
    RSS_NOISE_MIB_PER_H,
    SAMPLE_S,
    SYS_STORED,
)

# by kind of process: the queue's row label and what it counts
QUEUES = {
    "edge": ("buffer", "store-and-forward buffer, samples (`queue_depth` of its health report)"),
    "gateway": ("buffer", "disk buffer, lines (`buffer_depth` of `/metrics`)"),
    "cloud": ("intake", "intake queue, messages (`queued` of `/api/health`)"),
    "mosquitto": ("stored", f"stored messages (`{SYS_STORED}`)"),
}


@dataclass(frozen=True, slots=True)
class Sample:
    """One sampling of every process, `t` seconds into the window."""

    t: float
    rss: Mapping[str, float]  # MiB by process
    queue: Mapping[str, float]  # depth by process, where it has a queue
    cpu: Mapping[str, float]  # cumulative CPU seconds by process, plus "bench" and "machine"
    faults: int = 0  # faults measured (work order seen) so far
    fault_timeouts: int = 0


@dataclass
class SoakResults:
    window_s: float = 0.0
    startup_s: float = 0.0
    samples: list[Sample] = field(default_factory=list)
    # cumulative poll figures by agent: (seconds into the window, tally)
    polls: dict[str, list[tuple[float, PollTally]]] = field(default_factory=dict)
    fault_poll_ms: list[float] = field(default_factory=list)
    load_avg: tuple[float, float, float] = (0.0, 0.0, 0.0)
    bounds: dict[str, float] = field(default_factory=dict)  # a queue's limit, where known
    ended: float = 0.0  # wall clock at the end of the run
    took_s: float = 0.0  # from the first process start to the end


@dataclass(frozen=True, slots=True)
class Fit:
    """A least-squares line through (hours, value): its slope per hour and that slope's
    standard error."""

    slope: float
    stderr: float
    n: int


def fit(points: Sequence[tuple[float, float]]) -> Fit | None:
    """The least-squares slope per hour of (seconds, value) points; None with fewer than three
    points or all at one time. NaN values (a process gone) are left out."""
    xs = [t / 3600 for t, v in points if not math.isnan(v)]
    ys = [v for _, v in points if not math.isnan(v)]
    if len(xs) < 3 or max(xs) == min(xs):
        return None
    slope, intercept = statistics.linear_regression(xs, ys)
    mean = statistics.fmean(xs)
    spread = sum((x - mean) ** 2 for x in xs)
    residual = sum((y - (slope * x + intercept)) ** 2 for x, y in zip(xs, ys, strict=True))
    return Fit(slope, math.sqrt(residual / (len(xs) - 2) / spread), len(xs))


def verdict(f: Fit | None, noise: float) -> str:
    """Whether a slope is growth: beyond `noise` per hour and beyond two standard errors."""
    if f is None:
        return "too few samples"
    if abs(f.slope) < noise or abs(f.slope) <= 2 * f.stderr:
        return "no growth beyond noise"
    return "**grows**" if f.slope > 0 else "shrinks"


def spans(window_s: float, parts: int = PARTS) -> list[tuple[float, float]]:
    """The window cut into `parts` equal spans of seconds."""
    if window_s <= 0 or parts < 1:
        raise ValueError(f"spans of a {window_s:g} s window in {parts} parts")
    return [(window_s * i / parts, window_s * (i + 1) / parts) for i in range(parts)]


def _inside(samples: Iterable[Sample], a: float, b: float, first: bool) -> list[Sample]:
    # the first span takes the sample at 0 as well
    return [s for s in samples if (a <= s.t if first else a < s.t) and s.t <= b]


def at_or_before(samples: Sequence[Sample], t: float) -> Sample | None:
    """The last sample taken at `t` or before (allowing half a sampling interval of lateness)."""
    found = [s for s in samples if s.t <= t + SAMPLE_S / 2]
    return found[-1] if found else None


def series(samples: Iterable[Sample], what: str, name: str) -> list[tuple[float, float]]:
    """(t, value) of `name` in each sample's `rss` or `queue` where it was measured."""
    out = []
    for s in samples:
        values = s.rss if what == "rss" else s.queue
        if name in values:
            out.append((s.t, values[name]))
    return out


def growth(samples: Sequence[Sample], window_s: float, what: str, name: str) -> Fit | None:
    """The slope per hour of `name`'s `what` over the second half of the window."""
    return fit([p for p in series(samples, what, name) if p[0] >= FIT_FROM * window_s])


def tally_between(points: Sequence[tuple[float, PollTally]], a: float, b: float) -> PollTally:
    """What one agent polled between its first report at `a` or later and its last at `b` or
    earlier (its counters are cumulative)."""
    inside = [tally for t, tally in points if a <= t <= b]
    return inside[-1] - inside[0] if len(inside) >= 2 else PollTally()


def other_cores(before: Sample, after: Sample, processes: Iterable[str]) -> float:
    """Cores the machine spent on work other than the stack and this benchmark between two
    samples."""
    wall = after.t - before.t
    if wall <= 0:
        return float("nan")
    names = [*processes, "bench"]
    ours = sum(after.cpu.get(n, 0.0) - before.cpu.get(n, 0.0) for n in names)
    machine = after.cpu.get("machine", 0.0) - before.cpu.get("machine", 0.0)
    return max(0.0, (machine - ours) / wall)


def _label(b: float, window_s: float) -> str:
    return f"{b / 60:.0f} min" if window_s >= 20 * 60 else f"{b:.0f} s"


def _num(value: float, digits: int = 0) -> str:
    return "-" if math.isnan(value) else f"{value:,.{digits}f}"


def _pct(ratio: float) -> str:
    return "-" if math.isnan(ratio) else f"{100 * ratio:.2f} %"


def silence(points: Sequence[tuple[float, PollTally]], window_s: float) -> float:
    """The longest time in the window without a health report of one agent (seconds)."""
    times = [0.0, *(t for t, _ in points if 0 <= t <= window_s), window_s]
    return max(b - a for a, b in pairwise(times))


def _fit_cell(f: Fit | None) -> str:
    return "-" if f is None else f"{f.slope:+,.1f} ± {f.stderr:,.1f}"


def _queue_kind(name: str) -> str:
    return "edge" if name.startswith("edge") else name


def report(r: SoakResults) -> str:
    if not r.samples:
        raise ValueError("the soak took no samples")
    cuts = spans(r.window_s)
    heads = [_label(b, r.window_s) for _, b in cuts]
    processes = list(r.samples[0].rss)
    queues = list(dict.fromkeys(n for s in r.samples for n in s.queue))
    first, last = r.samples[0], r.samples[-1]
    fit_from = FIT_FROM * r.window_s
    out = [
        f"The campus load of `python -m benchmarks campus` ({BUILDINGS * PER_KIND * 4:,} "
        f"simulated devices, one edge agent per building polling every device each second, "
        f"the gateway into influxd, the cloud on SQLite) run for {r.window_s / 60:.0f} minutes "
        f"after a {WARMUP_S:.0f} s warm-up (the stack took {r.startup_s:.0f} s to start), "
        f"every process sampled every {SAMPLE_S:.0f} s ({len(r.samples)} samples). A fire "
        f"panel fault every {FAULT_EVERY_S:.0f} s checks fault → work order throughout. Growth "
        f"per hour is the least-squares slope over the second half of the run (from "
        f"{_label(fit_from, r.window_s)}), ± its standard error; it counts as growth only "
        f"beyond {RSS_NOISE_MIB_PER_H:g} MiB/h of RSS or {QUEUE_NOISE_PER_H:g} queued/h and "
        f"beyond two standard errors, else the verdict is *no growth beyond noise*.",
        "",
        "RSS (MiB) at the end of each tenth of the run:",
        "",
        f"| process | start | {' | '.join(heads)} | growth MiB/h | verdict |",
        "|---|" + "---:|" * (len(heads) + 2) + "---|",
    ]
    grew: list[str] = []
    full: list[str] = []
    for name in processes:
        cells = []
        for _, b in cuts:
            s = at_or_before(r.samples, b)
            cells.append(_num(s.rss.get(name, math.nan)) if s else "-")
        f = growth(r.samples, r.window_s, "rss", name)
        v = verdict(f, RSS_NOISE_MIB_PER_H)
        if v == "**grows**":
            grew.append(f"{name} RSS")
        out.append(
            f"| {name} | {_num(first.rss.get(name, math.nan))} | {' | '.join(cells)} "
            f"| {_fit_cell(f)} | {v} |"
        )
    out += [
        "",
        "Queue depth, mean / max within each tenth of the run:",
        "",
        f"| queue | {' | '.join(heads)} | growth /h | verdict |",
        "|---|" + "---:|" * (len(heads) + 1) + "---|",
    ]
    for name in queues:
        cells = []
        for i, (a, b) in enumerate(cuts):
            values = [s.queue[name] for s in _inside(r.samples, a, b, i == 0) if name in s.queue]
            cells.append(f"{statistics.fmean(values):,.0f} / {max(values):,.0f}" if values else "-")
        f = growth(r.samples, r.window_s, "queue", name)
        v = verdict(f, QUEUE_NOISE_PER_H)
        if v == "**grows**":
            grew.append(f"{name}'s queue")
        bound = r.bounds.get(name)
        if bound:
            depths = [d for _, d in series(r.samples, "queue", name)]
            at = sum(1 for d in depths if d >= bound)
            if at:
                share = 100 * at / len(depths)
                v += f"; **at its bound** ({bound:,.0f}) in {share:.0f} % of samples"
                full.append(name)
        label = f"{name} {QUEUES[_queue_kind(name)][0]}"
        out.append(f"| {label} | {' | '.join(cells)} | {_fit_cell(f)} | {v} |")
    kinds = dict.fromkeys(_queue_kind(n) for n in queues)
    out += ["", "Queues: " + "; ".join(f"{k}: {QUEUES[k][1]}" for k in kinds) + "."]
    if "mosquitto" not in queues:
        out.append(
            f"mosquitto published no `{SYS_STORED}` during the run, so its queue is not shown."
        )
    out += [
        "",
        "The service over the run: polls on schedule (on_schedule / (polls + skipped), from the "
        "agents' cumulative health figures), fault → work order from the poll that saw the "
        "fault, and CPU the machine spent on other work than the stack and this benchmark:",
        "",
        "| tenth | polls due | on schedule | faults | fault → work order p50 / max | timed out "
        "| other work (cores) |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    total = PollTally()
    previous = first
    for i, (a, b) in enumerate(cuts):
        polls = PollTally()
        for points in r.polls.values():
            polls = polls + tally_between(points, a, b)
        total = total + polls
        end = at_or_before(r.samples, b) or last
        done = r.fault_poll_ms[previous.faults if i else 0 : end.faults]
        lat = f"{percentile(done, 50):,.0f} / {max(done):,.0f} ms" if done else "-"
        out.append(
            f"| {_label(b, r.window_s)} | {polls.polls + polls.skipped:,} | "
            f"{_pct(polls.ratio)} | {len(done)} | {lat} | "
            f"{end.fault_timeouts - (previous.fault_timeouts if i else 0)} | "
            f"{_num(other_cores(previous, end, processes), 2)} |"
        )
        previous = end
    other = other_cores(first, last, processes)
    lat = r.fault_poll_ms
    out += [
        f"| whole run | {total.polls + total.skipped:,} | {_pct(total.ratio)} "
        f"| {len(lat)} | "
        + (f"{percentile(lat, 50):,.0f} / {max(lat):,.0f} ms" if lat else "-")
        + f" | {last.fault_timeouts} | {_num(other, 2)} |",
        "",
    ]
    summary = (
        f"**Verdict:** growth in {', '.join(grew)}; every other process and queue showed no "
        f"growth beyond noise."
        if grew
        else "**Verdict:** no growth beyond noise in any process's RSS or any queue."
    )
    if full:
        summary += (
            f" At its bound at times: {', '.join(full)}'s queue (a queue held at its bound "
            f"cannot grow, so its slope says nothing; what it does not take waits elsewhere)."
        )
    if "cloud" in full and any(g.startswith("mosquitto") for g in grew):
        summary += (
            " The cloud's intake queue was full, so the cloud stopped acknowledging and the "
            "broker held the telemetry the cloud had not taken yet (its session's queue, up to "
            "mosquitto's `max_queued_messages`): mosquitto's growth is the cloud's backlog "
            "falling behind the stream, not memory mosquitto loses."
        )
    quiet = {agent: silence(points, r.window_s) for agent, points in r.polls.items()}
    if quiet and max(quiet.values()) > 3 * HEALTH_INTERVAL_S:
        worst = max(quiet, key=lambda a: quiet[a])
        summary += (
            f" Health reports stopped arriving for a while: {worst}'s longest silence was "
            f"{quiet[worst] / 60:.1f} min (a report every {HEALTH_INTERVAL_S:.0f} s is due; "
            f"{sum(1 for q in quiet.values() if q > 3 * HEALTH_INTERVAL_S)} of {len(quiet)} "
            f"agents were silent over {3 * HEALTH_INTERVAL_S:.0f} s). Reports travel through "
            f"the agent's buffer behind its telemetry, so during a silence an agent's buffer "
            f"depth above is the last one reported and its polls are missing from the table."
        )
    out.append(summary)
    notes = []
    if r.window_s < FULL_DURATION_S:
        notes.append(
            f"this was a shortened run ({r.window_s:.0f} s, `PLANTROOM_BENCH_SOAK_S`), not "
            f"the {FULL_DURATION_S / 60:.0f}-minute soak"
        )
    notes.append(
        f"the machine may have had other work: it spent {_num(other, 2)} cores on it on "
        f"average (load average {r.load_avg[0]:.1f} at the end)"
        + (", more than a quiet machine's" if other > QUIET_CORES else "")
    )
    out += ["", "Note: " + "; ".join(notes) + "."]
    return "\n".join(out)


def write_csv(r: SoakResults, path: Path) -> None:
    """Every sample, one row per process: t_s, process, rss_mib, queue_depth, cpu_s."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["t_s", "process", "rss_mib", "queue_depth", "cpu_s"])
        for s in r.samples:
            for name in dict.fromkeys([*s.rss, *s.queue, *s.cpu]):
                w.writerow(
                    [
                        f"{s.t:.1f}",
                        name,
                        f"{s.rss[name]:.2f}" if name in s.rss else "",
                        f"{s.queue[name]:g}" if name in s.queue else "",
                        f"{s.cpu[name]:.2f}" if name in s.cpu else "",
                    ]
                )


def save_json(r: SoakResults, path: Path) -> None:
    """Everything a run gathered, to render its report again (`load_json`)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(r)))


def load_json(path: Path) -> SoakResults:
    """A run's results written by `save_json`; ValueError naming the file when it is not one."""
    try:
        data = json.loads(path.read_text())
        return SoakResults(
            window_s=float(data["window_s"]),
            startup_s=float(data["startup_s"]),
            samples=[Sample(**s) for s in data["samples"]],
            polls={
                agent: [(float(t), PollTally(**tally)) for t, tally in points]
                for agent, points in data["polls"].items()
            },
            fault_poll_ms=[float(v) for v in data["fault_poll_ms"]],
            load_avg=(
                float(data["load_avg"][0]),
                float(data["load_avg"][1]),
                float(data["load_avg"][2]),
            ),
            bounds={k: float(v) for k, v in data["bounds"].items()},
            ended=float(data["ended"]),
            took_s=float(data["took_s"]),
        )
    except (OSError, KeyError, IndexError, TypeError, ValueError) as exc:
        raise ValueError(f"{path}: not a soak's results ({exc!r})") from exc
