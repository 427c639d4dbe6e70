"""Agent knobs beyond EdgeSettings: defaults, validation, and pick-up from settings fields."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.agent import EdgeAgent, Tuning
from plantroom.errors import ConfigError
from plantroom.settings import EdgeSettings


def test_defaults_follow_the_poll_class_contract() -> None:
    t = Tuning()
    assert (t.normal_every, t.slow_every) == (5, 30)
    assert t.buffer_synchronous == "NORMAL"


def test_tuning_is_read_from_settings_fields_when_they_exist() -> None:
    class Extended(EdgeSettings):
        edge_normal_every: int = 7
        edge_commit_interval_s: float = 0.0
        edge_buffer_synchronous: str = "FULL"

    t = Tuning.from_settings(Extended())
    assert (t.normal_every, t.slow_every) == (7, 30)
    assert t.commit_interval_s == 0.0
    assert t.buffer_synchronous == "FULL"
    assert Tuning.from_settings(EdgeSettings()) == Tuning()


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"normal_every": 0}, "at least 1"),
        ({"commit_interval_s": -1}, ">= 0"),
        ({"buffer_synchronous": "OFF"}, "NORMAL or FULL"),
        ({"publish_window": 0}, "at least 1"),
        ({"backoff_max_s": 0}, "> 0"),
        ({"stop_drain_s": -1}, ">= 0"),
        ({"mqtt_stale_after_s": 0}, "> 0"),
    ],
)
def test_bad_tuning_is_a_config_error(kw: dict[str, object], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        Tuning(**kw)  # type: ignore[arg-type]


async def test_agent_id_must_be_a_topic_segment(tmp_path: Path) -> None:
    s = EdgeSettings(edge_agent_id="edge/1", edge_buffer_path=tmp_path / "b.sqlite")
    with pytest.raises(ConfigError, match="PLANTROOM_EDGE_AGENT_ID 'edge/1' may only contain"):
        async with EdgeAgent(s):
            pass
