"""The public report at a service of two sites whose equipment shares ids: the per-place
limit counts each site's `pump-1` apart."""

from __future__ import annotations

from pathlib import Path

from plantroom.settings import CloudSettings
from tests.cloud.harness import error, serve
from tests.cloud.requests.desk import report
from tests.cloud.sites import north_and_south

PUMP = "pump-1"


async def test_each_sites_pump_is_a_place_of_its_own_for_the_limit(tmp_path: Path) -> None:
    settings = CloudSettings(
        inventory=north_and_south(tmp_path, north_pump=PUMP, south_pump=PUMP),
        database_url=f"sqlite:///{tmp_path}/db/cloud.sqlite",
        demo_credentials_path=tmp_path / "demo" / "credentials.json",
        request_rate_per_address=10,
        request_rate_per_location=1,
    )
    async with serve(settings) as api:
        north = await report(api, PUMP, site="north")
        assert north.status_code == 201, north.text
        again = await report(api, PUMP, site="north")
        assert "location" in error(again, 429, "too_many_requests")
        south = await report(api, PUMP, site="south")
        assert south.status_code == 201, south.text
        unsaid = await report(api, PUMP)
        assert "several sites" in error(unsaid, 422, "invalid_request")
        nowhere = await report(api, "no-such-thing")
        assert error(nowhere, 422, "invalid_request").startswith("code:")
        building = await report(api, "n-tower")
        assert building.status_code == 201, building.text
