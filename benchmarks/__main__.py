"""Run the benchmarks and write their results into docs/benchmarks.md.

    python -m benchmarks                 # every benchmark
    python -m benchmarks sim edge        # only these (module names without `bench_`)
    python -m benchmarks --no-write      # print, leave docs/benchmarks.md alone
    python -m benchmarks soak            # the one-hour soak, into docs/reliability.md

Each `benchmarks/bench_<name>.py` has `TITLE` and `run() -> str`, returning a Markdown section
body. The page keeps the last result of every benchmark, so running one refreshes only its own.
A module may name another `PAGE` to write into (its section is replaced in place, the rest of
that page is kept), and `ON_REQUEST = True` keeps it out of the default run (it runs only when
named).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.pages import marked, put_section, sections, titled

ROOT = Path(__file__).resolve().parent.parent
PAGE = ROOT / "docs" / "benchmarks.md"
HEADER = """# Benchmarks

Written by `make bench` (`python -m benchmarks [name …]`); each section is replaced when its
benchmark runs again. Speed and memory are measured here, never asserted in tests.
The one-hour soak of the campus load (`python -m benchmarks soak`, run only when named; its
length in seconds is `PLANTROOM_BENCH_SOAK_S`) writes its memory and queue depths over time into
[reliability.md](reliability.md#soak-the-campus-load-for-an-hour).
"""


def names() -> list[str]:
    pkg = Path(__file__).resolve().parent
    return sorted(
        m.name.removeprefix("bench_")
        for m in pkgutil.iter_modules([str(pkg)])
        if m.name.startswith("bench_")
    )


def write(page: Path, done: dict[str, str]) -> None:
    """Put the sections of `done` into `page`: docs/benchmarks.md is rebuilt in name order from
    its kept sections; any other page gets each section replaced in place (or appended)."""
    if page == PAGE:
        kept = sections(page.read_text()) if page.exists() else {}
        kept.update(done)
        page.write_text("\n".join([HEADER, *(marked(name, kept[name]) for name in sorted(kept))]))
        return
    text = page.read_text() if page.exists() else ""
    for name, body in done.items():
        text = put_section(text, name, body)
    page.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks")
    parser.add_argument("only", nargs="*", help="benchmarks to run (default: all)")
    parser.add_argument("--no-write", action="store_true", help="do not update the page")
    args = parser.parse_args(argv)
    available = names()
    unknown = set(args.only) - set(available)
    if unknown:
        parser.error(f"unknown benchmark(s) {sorted(unknown)}; available: {available}")
    modules = {name: importlib.import_module(f"benchmarks.bench_{name}") for name in available}
    chosen = args.only or [n for n in available if not getattr(modules[n], "ON_REQUEST", False)]
    done: dict[Path, dict[str, str]] = {}
    for name in chosen:
        module = modules[name]
        print(f"== {name}: {module.TITLE}", flush=True)
        started = time.monotonic()
        body = module.run()
        took = time.monotonic() - started
        section = titled(name, module.TITLE, body, took, datetime.now(UTC))
        print(section, flush=True)
        done.setdefault(Path(getattr(module, "PAGE", PAGE)), {})[name] = section
    if not args.no_write:
        for page, written in done.items():
            write(page, written)
            print(f"wrote {page.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
