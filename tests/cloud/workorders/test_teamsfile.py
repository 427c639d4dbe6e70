"""The teams file's `contractors:` section (pure: files only): read beside the default teams,
each entry with its line; a bad field named by file, line and path."""

from __future__ import annotations

from pathlib import Path

import pytest

from cloud.enums import Trade
from cloud.workorders.routing import SHIPPED, load_team_defaults
from cloud.workorders.teamsfile import load_contractors
from plantroom.errors import ConfigError

FILE = """\
elevator: lifts
contractors:
  lift-contractor:
    company: Harbour Lift Services Ltd
    trade: lifts
    contacts:
      - {channel: email, address: service@lifts.example.com}
  fire-contractor:
    company: Harbour Fire Ltd
    trade: fire
    building: b2
    sign_off_required: true
"""


def test_the_section_is_read_beside_the_default_teams(tmp_path: Path) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text(FILE, encoding="utf-8")
    assert load_team_defaults(path).root == {"elevator": "lifts"}
    lift, fire = load_contractors(path)
    assert (lift.name, lift.spec.trade, lift.spec.building) == (
        "lift-contractor",
        Trade.LIFTS,
        None,
    )
    assert [(c.channel, c.address) for c in lift.spec.contacts] == [
        ("email", "service@lifts.example.com")
    ]
    assert lift.where == f"{path}:4" and fire.where == f"{path}:9"  # their first lines
    assert fire.spec.sign_off_required and fire.spec.building == "b2"
    assert load_contractors(SHIPPED) == []


@pytest.mark.parametrize(
    ("change", "named"),
    [
        (
            ("company: Harbour Fire Ltd", "company: ''"),
            r":9: contractors\.fire-contractor\.company",
        ),
        (("trade: fire", "trade: gas"), r":10: contractors\.fire-contractor\.trade"),
        (("fire-contractor:", "Fire Co:"), r":9: contractors\.Fire Co"),
        (
            ("sign_off_required: true", "signoff: true"),
            r":12: contractors\.fire-contractor\.signoff",
        ),
        (("{channel: email,", "{channel: email, position: 1,"), r":7: .*contacts\.0\.position"),
    ],
)
def test_a_bad_entry_names_its_line(tmp_path: Path, change: tuple[str, str], named: str) -> None:
    path = tmp_path / "teams.yaml"
    path.write_text(FILE.replace(*change), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"teams\.yaml" + named):
        load_contractors(path)
