"""What the work-order API tests share: a technician who reads Chinese, a page read through
the API, and the lift's daily patrol raised by the app's own PM scheduler."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from cloud.workorders.model import WorkOrder
from tests.cloud.harness import Api

PATROL = "elevator.daily_patrol"


async def reads_chinese(api: Api, who: str) -> None:
    """`who` sets their language to Chinese."""
    answer = await api.client.put(
        "/api/me/language", headers=api.auth(who), json={"language": "zh"}
    )
    assert answer.status_code < 300, answer.text


async def read(api: Api, url: str, who: str) -> Any:
    """The JSON `who` reads at `url`, which must answer 200."""
    answer = await api.get(url, who)
    assert answer.status_code == 200, answer.text
    return answer.json()


def raise_patrol(api: Api) -> str:
    """The daily patrol of lift e1 raised by the app's scheduler: its number."""
    scheduler = api.app.state.pm_scheduler
    scheduler.evaluate()  # the first day: the daily patrol is scheduled a day on
    api.clock.advance(days=1)
    numbers = scheduler.evaluate().raised
    with api.db.sessions() as session:
        number = session.scalar(
            select(WorkOrder.number).where(
                WorkOrder.number.in_(numbers),
                WorkOrder.pm_plan_id == PATROL,
                WorkOrder.equipment_id == "e1",
            )
        )
    assert number is not None, numbers
    return number
