"""`python -m chaos [--reduced] [--write] [--var DIR]`; exits 1 when any fault lost data."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from benchmarks.pages import put_section, sections
from chaos.report import REPORT_PATH, render
from chaos.runner import FULL, REDUCED, Campaign
from plantroom.errors import PlantroomError


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos", description=__doc__)
    parser.add_argument("--reduced", action="store_true", help="small site, short outages")
    parser.add_argument("--write", action="store_true", help=f"write {REPORT_PATH}")
    parser.add_argument("--var", type=Path, default=Path("var/chaos"), help="data and logs")
    args = parser.parse_args(argv)
    config = REDUCED if args.reduced else FULL
    campaign = Campaign(config, args.var, sys.stdout)
    started = time.monotonic()
    try:
        results = campaign.run()
    except PlantroomError as exc:
        print(f"chaos: {exc}", file=sys.stderr)
        return 2
    text = render(config, campaign, time.monotonic() - started)
    print(text)
    if args.write:
        # the page also holds sections other runs write (the soak's): they are kept
        kept = sections(REPORT_PATH.read_text()) if REPORT_PATH.exists() else {}
        for name, body in kept.items():
            text = put_section(text, name, body)
        REPORT_PATH.write_text(text)
        print(f"written to {REPORT_PATH}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
