"""How hard the fuzz tests push: bounded for CI, raised locally with PLANTROOM_FUZZ_SCALE.

    PLANTROOM_FUZZ_SCALE=20 .venv/bin/pytest tests/fuzz

multiplies every test's example count by 20. The default of 1 keeps the whole folder
within about three minutes.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, settings

SCALE_ENV = "PLANTROOM_FUZZ_SCALE"


def scale() -> int:
    text = os.environ.get(SCALE_ENV, "1")
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{SCALE_ENV} must be a whole number, got {text!r}") from None
    if value < 1:
        raise ValueError(f"{SCALE_ENV} must be at least 1, got {value}")
    return value


def examples(base: int) -> int:
    """`base` examples in CI, `base * PLANTROOM_FUZZ_SCALE` when asked for more."""
    return base * scale()


def fast(base: int) -> settings:
    """Settings for a property of pure code: many cheap examples, shrinking kept."""
    return settings(
        max_examples=examples(base),
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def expensive(base: int) -> settings:
    """Settings for an example that runs real servers: few examples and no shrinking (a
    failure reports the whole example instead of re-running servers to minimise it)."""
    return settings(
        max_examples=examples(base),
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
