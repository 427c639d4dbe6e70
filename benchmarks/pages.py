"""The pages benchmarks write into: sections between `<!-- bench:NAME -->` markers, each replaced
when its benchmark runs again while the rest of the page is left as it was."""

from __future__ import annotations

import os
import platform
import re
from datetime import datetime
from pathlib import Path

_SECTION = r"<!-- bench:(\w+) -->\n(.*?)<!-- /bench:\1 -->"


def sections(text: str) -> dict[str, str]:
    """The body of every marked section of a page, by name."""
    return {m.group(1): m.group(2) for m in re.finditer(_SECTION, text, flags=re.S)}


def marked(name: str, body: str) -> str:
    """`body` between the markers of section `name`."""
    if not re.fullmatch(r"\w+", name):
        raise ValueError(f"a section name is letters, digits and _, got {name!r}")
    return f"<!-- bench:{name} -->\n{body}<!-- /bench:{name} -->\n"


def put_section(text: str, name: str, body: str) -> str:
    """`text` with section `name` holding `body`: replaced where it is, else appended."""
    block = marked(name, body)
    key = re.escape(name)
    pattern = re.compile(rf"<!-- bench:{key} -->\n.*?<!-- /bench:{key} -->\n?", re.S)
    if pattern.search(text):
        return pattern.sub(lambda _: block, text, count=1)
    return f"{text.rstrip()}\n\n{block}" if text.strip() else block


def machine() -> str:
    """The CPU, cores, memory, kernel and Python a benchmark ran on."""
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
    return (
        f"{cpu}, {os.cpu_count()} cores{mem}; {platform.system()} {platform.release()}; "
        f"Python {platform.python_version()}"
    )


def titled(name: str, title: str, body: str, took: float, measured: datetime) -> str:
    """A benchmark's section: its title, its body, when and on what it was measured."""
    stamp = measured.strftime("%Y-%m-%d %H:%M UTC")
    return (
        f"## {title}\n\n{body.strip()}\n\n"
        f"*Measured {stamp} in {took:.0f} s on: {machine()}. "
        f"Re-run: `python -m benchmarks {name}`.*\n"
    )
