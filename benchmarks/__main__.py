"""Run the benchmarks and write their results into docs/benchmarks.md.

    python -m benchmarks                 # every benchmark
    python -m benchmarks sim edge        # only these (module names without `bench_`)
    python -m benchmarks --no-write      # print, leave docs/benchmarks.md alone

Each `benchmarks/bench_<name>.py` has `TITLE` and `run() -> str`, returning a Markdown section
body. The page keeps the last result of every benchmark, so running one refreshes only its own.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import platform
import re
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Written by `make bench` (`python -m benchmarks [name …]`); each section is replaced when its
benchmark runs again. Speed and memory are measured here, never asserted in tests.
"""


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f", {kb / 1024 / 1024:.0f} GiB RAM"
    except (OSError, ValueError, IndexError):
        pass
    import os

    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def names() -> list[str]:
    pkg = Path(__file__).resolve().parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(pkg)])
        if m.name.startswith("bench_")
    )


def sections(text: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for m in re.finditer(r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->", text, flags=re.S):
        found[m.group(1)] = m.group(2)
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("only", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--no-write", action="store_true", help="do not update the page")
    args = parser.parse_args(argv)
    available = names()
    chosen = args.only or available
    unknown = set(chosen) - set(available)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; available: {available}")
    kept = sections(PAGE.read_text()) if PAGE.exists() else {}
    for name in chosen:
        module = importlib.import_module(f"benchmarks.bench_{name}")
        print(f"== {name}: {module.TITLE}", flush=True)
        started = time.monotonic()
        body = module.run()
        took = time.monotonic() - started
        stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
        kept[name] = (
            f"## {module.TITLE}\n\n{body.strip()}\n\n"
            f"*Measured {stamp} in {took:.0f} s on: {machine()}. "
            f"Re-run: `python -m benchmarks {name}`.*\n"
        )
        print(kept[name], flush=True)
    if not args.no_write:
        parts = [HEADER]
        for name in sorted(kept):
            parts.append(f"<!-- bench:{name} -->\n{kept[name]}<!-- /bench:{name} -->\n")
        PAGE.write_text("\n".join(parts))
        print(f"wrote {PAGE.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
