"""`plantroom assets …` against the API served by uvicorn on loopback: a file with bad rows
refused with every row named by the file's own path and nothing kept, the corrected file
checked and imported, the register listed and exported, and a technician refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from cloud.app import create_app
from cloud.assets.cli import assets_app
from cloud.enums import Role
from tests.cloud.harness import Clock, over_http, run_cli, settings_for, signed_up

pytestmark = pytest.mark.integration

GOOD = (
    "id,kind,building,name,make,model,install_date,warranty_end\n"
    "gen-1,generator,b1,Stand-by generator,Cummins,C550 D5,2021-04-01,2026-03-31\n"
    "ext-1,extinguisher,b2,Lobby extinguisher,Amerex,B500,2024-05-01,2029-05-01\n"
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    app = create_app(
        settings_for(tmp_path), clock=Clock(), ingest=False, escalate=False, notify=False
    )
    with over_http(app) as (host, port):
        tokens = signed_up(app.state.cloud, {"tech1": Role.TECHNICIAN, "super1": Role.SUPERVISOR})
        yield f"http://{host}:{port}", tokens


def assets(served: tuple[str, dict[str, str]], who: str, *args: str) -> tuple[int, str]:
    url, tokens = served
    result = run_cli(assets_app, "assets", url, tokens[who], *args)
    return result.exit_code, result.output


def test_import_check_list_and_export(served: tuple[str, dict[str, str]], tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(GOOD + "tank-1,water_tank,b1,,,,2019-01-01,2018-12-31\n", encoding="utf-8")
    code, out = assets(served, "super1", "import", str(bad))
    assert code == 1
    assert f"plantroom: {bad}:4: warranty_end: 2018-12-31 is before install_date 2019-01-01" in out
    assert "(HTTP 422 invalid_csv)" in out
    code, out = assets(served, "super1", "list", "--register-only")
    assert code == 0 and "gen-1" not in out  # nothing of the bad file was kept

    good = tmp_path / "good.csv"
    good.write_text(GOOD, encoding="utf-8")
    code, out = assets(served, "super1", "import", str(good), "--dry-run")
    assert code == 0, out
    assert f"{good}: 2 rows; 2 would be added, 0 would be updated, 0 unchanged" in out
    code, out = assets(served, "super1", "import", str(good))
    assert code == 0, out
    assert f"{good}: 2 rows; 2 were added, 0 were updated, 0 unchanged" in out
    assert "  + gen-1" in out and "  + ext-1" in out

    code, out = assets(served, "tech1", "list", "--register-only")
    assert code == 0, out
    rows = out.splitlines()[1:]
    assert [r.split()[:3] for r in rows] == [
        ["gen-1", "generator", "b1"],
        ["ext-1", "extinguisher", "b2"],
    ]
    assert "Cummins C550 D5" in rows[0] and rows[0].endswith("2026-03-31")

    exported = tmp_path / "out.csv"
    code, out = assets(served, "tech1", "export", "-o", str(exported), "--register-only")
    assert code == 0, out
    assert out.strip() == f"{exported}: 2 assets"
    text = exported.read_text(encoding="utf-8")
    assert text.splitlines()[1].startswith("gen-1,generator,b1,,,Stand-by generator,Cummins,")
    code, out = assets(served, "super1", "import", str(exported))
    assert code == 0 and "0 were added, 0 were updated, 2 unchanged" in out

    code, out = assets(served, "tech1", "import", str(good))
    assert code == 1 and "(HTTP 403 forbidden)" in out
    code, out = assets(served, "super1", "import", str(tmp_path / "missing.csv"))
    assert code == 1 and "missing.csv: No such file or directory" in out
