# ruff: noqa: RUF001  (the Chinese page uses full-width punctuation)
"""The page a message's acknowledge link opens is in the language of the person it was sent
to; a refusal, whose person is not known, in the browser's language."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from cloud.enums import Role
from cloud.users.service import get_user
from tests.cloud.harness import Api, serve, settings_for
from tests.cloud.notify.harness import contact, sent_link

pytestmark = pytest.mark.integration


@pytest.fixture
async def api(tmp_path: Path) -> AsyncIterator[Api]:
    async with serve(settings_for(tmp_path), users={"tech1": Role.TECHNICIAN}) as a:
        yield a


def link_path(api: Api) -> str:
    contact(api, "tech1", "email", "t1@example.com")
    return sent_link(api)


async def test_the_page_is_in_the_language_of_the_links_person(api: Api) -> None:
    with api.db.session() as session:
        user = get_user(session, "tech1")
        assert user is not None
        user.language = "zh"
    path = link_path(api)

    page = await api.client.get(path)
    assert page.status_code == 200, page.text
    assert '<html lang="zh-CN">' in page.text
    assert "以 Tech1 的身份确认接单 WO-000001" in page.text
    assert "<b>WO-000001</b> (急, 待接单)" in page.text  # priority and status named
    assert "在控制台中打开" in page.text and "Acknowledge" not in page.text
    assert "水泵干转：" in page.text  # the shipped rule's title

    done = await api.client.post(path)
    assert done.status_code == 200, done.text
    assert "<h1>已确认接单 WO-000001</h1>" in done.text and "(急, 已接单)" in done.text

    # used: the person is not known from a used link, so the browser's language
    again = await api.client.get(path, headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert again.status_code == 410
    assert "<h1>此链接无法使用</h1>" in again.text and "此链接已使用过。" in again.text
    english = await api.client.get(path, headers={"Accept-Language": "en-GB"})
    assert english.status_code == 410 and "This link was already used." in english.text
    assert '<html lang="en">' in english.text


async def test_an_english_readers_page_is_as_it_was(api: Api) -> None:
    path = link_path(api)
    page = await api.client.get(path, headers={"Accept-Language": "zh-CN"})
    assert page.status_code == 200, page.text
    # the person's language (English), not the browser's
    assert '<html lang="en">' in page.text and "Acknowledge WO-000001 as Tech1" in page.text
    assert "<b>WO-000001</b> (urgent, open)" in page.text
    assert "Pump running dry: " in page.text
    done = await api.client.post(path)
    assert "<h1>WO-000001 acknowledged</h1>" in done.text
    assert "(urgent, acknowledged)" in done.text
