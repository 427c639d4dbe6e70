"""`python -m plantroom.profiles FILE...`: validate profile files, print what is wrong."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from plantroom.errors import ConfigError
from plantroom.profiles.loader import load_profile


def main(argv: Sequence[str] | None = None) -> int:
    """Validate each profile file; 0 when all are valid, 1 when one is not, 2 without files."""
    paths = list(sys.argv[1:] if argv is None else argv)
    if not paths:
        print("usage: python -m plantroom.profiles PROFILE.yaml [...]", file=sys.stderr)
        return 2
    failed = 0
    for name in paths:
        try:
            profile = load_profile(Path(name))
        except ConfigError as exc:
            failed += 1
            print(exc, file=sys.stderr)
            continue
        derived = f", {len(profile.derived)} derived" if profile.derived else ""
        print(
            f"{name}: ok ({profile.kind.value}, {profile.protocol}, "
            f"{len(profile.points)} points{derived})"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
