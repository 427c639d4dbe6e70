"""The agent's tuning is EdgeSettings: defaults, validation naming the variable, and the agent
taking its knobs from the settings it is given."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.agent import EdgeAgent
from plantroom.errors import ConfigError
from plantroom.profiles import Poll
from plantroom.settings import EdgeSettings, load_settings


def test_defaults_follow_the_poll_class_contract() -> None:
    s = EdgeSettings()
    assert (s.edge_normal_every, s.edge_slow_every) == (5, 30)
    assert s.edge_buffer_synchronous == "NORMAL"


def test_the_agent_takes_its_tuning_from_its_settings() -> None:
    s = EdgeSettings(edge_poll_interval_s=2.0, edge_normal_every=7, edge_slow_every=11)
    agent = EdgeAgent(s)
    assert agent.modbus.intervals() == {Poll.FAST: 2.0, Poll.NORMAL: 14.0, Poll.SLOW: 22.0}
    assert agent.stale_after() == 44.0  # twice the slow interval unless set
    assert EdgeAgent(s.model_copy(update={"edge_mqtt_stale_after_s": 3.0})).stale_after() == 3.0


@pytest.mark.parametrize(
    ("kw", "words"),
    [
        ({"edge_normal_every": 0}, "PLANTROOM_EDGE_NORMAL_EVERY: .*greater than or equal to 1"),
        ({"edge_commit_interval_s": -1}, "PLANTROOM_EDGE_COMMIT_INTERVAL_S: .*greater than"),
        ({"edge_buffer_synchronous": "OFF"}, "PLANTROOM_EDGE_BUFFER_SYNCHRONOUS: .*'NORMAL'"),
        ({"edge_publish_window": 0}, "PLANTROOM_EDGE_PUBLISH_WINDOW: .*greater than or equal"),
        ({"edge_backoff_max_s": 0}, "PLANTROOM_EDGE_BACKOFF_MAX_S: .*greater than 0"),
        ({"edge_stop_drain_s": -1}, "PLANTROOM_EDGE_STOP_DRAIN_S: .*greater than or equal"),
        ({"edge_mqtt_stale_after_s": 0}, "PLANTROOM_EDGE_MQTT_STALE_AFTER_S: .*greater than 0"),
        ({"edge_health_interval_s": 0}, "PLANTROOM_EDGE_HEALTH_INTERVAL_S: .*greater than 0"),
    ],
)
def test_bad_tuning_is_a_config_error_naming_the_variable(
    kw: dict[str, object], words: str
) -> None:
    with pytest.raises(ConfigError, match=words):
        load_settings(EdgeSettings, **kw)


async def test_agent_id_must_be_a_topic_segment(tmp_path: Path) -> None:
    s = EdgeSettings(edge_agent_id="edge/1", edge_buffer_path=tmp_path / "b.sqlite")
    with pytest.raises(ConfigError, match="PLANTROOM_EDGE_AGENT_ID 'edge/1' may only contain"):
        async with EdgeAgent(s):
            pass
