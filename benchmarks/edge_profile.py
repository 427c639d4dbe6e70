"""Where the edge agent's CPU goes: the categories of its work, and cProfile's figures put
into them (when py-spy is not installed)."""

from __future__ import annotations

import pstats
from pathlib import Path
from typing import Any

from benchmarks.profiles import Profile, categorise, summarise

CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("decode registers", ("edge/decode.py", "edge/decode_blocks.py")),
    ("report-by-exception, change tracking", ("ReportFilter.", "ChangeTracker.")),
    ("buffer append (SQLite insert, JSON)", ("SampleBuffer.append (",)),
    ("buffer commit", ("SampleBuffer.commit (",)),
    (
        "publish: read the buffer, ack, delete",
        (
            "SampleBuffer.pending (",
            "SampleBuffer.ack_through (",
            "Publisher._release_acked (",
            "Publisher._fill (",
        ),
    ),
    ("vendor messages (lighting JSON)", ("MqttDevices.", "VendorEquipment.on_message (")),
    ("MQTT client (the publisher's connection)", ("plantroom/mqtt", "Publisher.")),
    ("Modbus requests (pymodbus)", ("pymodbus/", "ModbusHub.")),
    ("poll loop, scheduling, statistics", ("EdgeAgent.", "ModbusDevice.", "edge/")),
)
OTHER = "asyncio event loop (selector, callbacks, tasks) and the rest"


def read_cprofile(path: Path) -> Profile | None:
    """cProfile's own time per function, each function put in the category of its callers."""
    try:
        stats = pstats.Stats(str(path))
    except (OSError, TypeError, EOFError):
        return None
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    names = {k: f"{k[2]} ({k[0]}:{k[1]})" for k in raw}

    def label(k: Any) -> str:
        file, _, func = k
        return f"{func} ({file}:0)"

    total = 0.0
    by_category: dict[str, float] = {}
    by_function: dict[str, float] = {}
    for key, (_cc, _nc, tottime, _ct, callers) in raw.items():
        if key[2] in ("select", "poll", "<method 'poll' of 'select.epoll' objects>"):
            continue
        total += tottime
        frames = [label(key)] + [label(c) for c in callers]
        # one level of callers, with qualified names where cProfile has them
        category = categorise(frames + [names.get(c, "") for c in callers], CATEGORIES, OTHER)
        by_category[category] = by_category.get(category, 0.0) + tottime
        short = f"`{key[2]}` ({'/'.join(str(key[0]).split('/')[-2:])})"
        by_function[short] = by_function.get(short, 0.0) + tottime
    if total <= 0:
        return None
    return summarise(
        total, by_category, by_function, CATEGORIES, OTHER, "cProfile (own time, by direct caller)"
    )
