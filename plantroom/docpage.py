"""The command line of a generated reference page: print it, or write it with `--write`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path


def page_main(
    prog: str,
    description: str | None,
    doc_path: Path,
    render: Callable[[], str],
    argv: Sequence[str] | None = None,
) -> int:
    """Print the page, or write it to `--write PATH` (default `doc_path`)."""
    parser = argparse.ArgumentParser(prog=prog, description=description)
    parser.add_argument(
        "--write",
        nargs="?",
        const=doc_path,
        type=Path,
        metavar="PATH",
        help=f"write the page to PATH (default {doc_path}) instead of printing it",
    )
    args = parser.parse_args(argv)
    text = render()
    if args.write is None:
        sys.stdout.write(text)
        return 0
    target: Path = args.write
    if not target.parent.is_dir():
        parser.error(f"{target.parent} is not a folder; run from the repository root")
    target.write_text(text, encoding="utf-8")
    return 0
