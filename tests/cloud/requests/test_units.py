"""The service desk's pure parts: sampling, masks, rate limits, language choice, messages,
categories and the photo cleaner."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from PIL import Image

from cloud.errors import InvalidInput
from cloud.requests.categories import load_categories
from cloud.requests.followups import sampled
from cloud.requests.limits import ReportLimits
from cloud.requests.messages import catalog, pick_lang, render
from cloud.requests.photos import MAX_SIDE, clean_photo
from cloud.requests.privacy import mask_email, mask_name, mask_phone
from plantroom.errors import ConfigError
from tests.cloud.harness import camera_jpeg

T = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def test_sampling_is_deterministic_and_near_the_share() -> None:
    numbers = [f"WO-{i:06d}" for i in range(1, 10_001)]
    chosen = [n for n in numbers if sampled(n, 30)]
    assert chosen == [n for n in numbers if sampled(n, 30)]
    assert 2850 <= len(chosen) <= 3150  # 30 % of 10 000, within 1 % of the jobs
    assert not any(sampled(n, 0) for n in numbers[:100])
    assert all(sampled(n, 100) for n in numbers[:100])
    # the same jobs stay chosen when the share grows
    assert set(chosen) <= {n for n in numbers if sampled(n, 50)}


def test_masks() -> None:
    assert mask_phone("+86 138 0013 8000") == "•••8000"
    assert mask_phone("12345") == "•••"
    assert mask_email("li.wei@example.com") == "l•••@example.com"
    assert mask_name("Li Wei") == "L•••"
    assert (mask_phone(None), mask_email(None), mask_name(None)) == (None, None, None)


def test_limits_slide_per_address_and_per_location() -> None:
    limits = ReportLimits(per_address=2, per_location=3, window_s=60)
    for _ in range(2):
        assert limits.check("a", "L1", T) == (0, None)
        limits.record("a", "L1", T)
    assert limits.check("a", "L2", T) == (60, "address")
    assert limits.check("b", "l1", T + timedelta(seconds=10)) == (0, None)
    limits.record("b", "l1", T + timedelta(seconds=10))
    assert limits.check("c", "L1", T + timedelta(seconds=20)) == (40, "location")
    assert limits.check("a", "L2", T + timedelta(seconds=60)) == (0, None)


def test_language_and_messages() -> None:
    assert pick_lang("zh-CN,zh;q=0.9,en;q=0.8") == "zh-CN"
    assert pick_lang("en-GB,en;q=0.9") == "en"
    assert pick_lang("fr-FR") == "en"
    assert pick_lang(None) == "en"
    assert set(catalog("en")) == set(catalog("zh-CN"))
    # the console's catalogs: the public pages' and the messages' keys are the `report.` ones
    assert sum(key.startswith("report.") for key in catalog("en")) >= 20
    text = render(
        "zh-CN", "postponed", {"until": "2026-03-05T10:00:00+00:00", "reason": "等待配件"}, UTC
    )
    assert text == "维修延期至 2026-03-05 10:00\uff1a等待配件"  # a full-width colon


def test_categories(tmp_path: Path) -> None:
    shipped = load_categories()
    assert shipped.for_kind("lighting") == "lighting"
    assert shipped.for_kind("unknown") == "other"
    assert shipped.routing_kind("leak") == "pump"
    assert shipped.routing_kind("door") is None
    with pytest.raises(InvalidInput, match="category: 'x'"):
        shipped.get("x")
    bad = tmp_path / "categories.yaml"
    bad.write_text("categories:\n  lights: {trade: carpentry}\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"categories\.yaml"):
        load_categories(bad)


def test_a_photo_is_turned_upright_shrunk_and_stripped() -> None:
    cleaned = clean_photo(camera_jpeg((3200, 1000)), max_bytes=5_000_000)
    with Image.open(io.BytesIO(cleaned)) as image:
        assert image.size == (MAX_SIDE, 500)
        assert not image.getexif()
        assert "exif" not in image.info
    png = io.BytesIO()
    Image.new("RGBA", (10, 10)).save(png, format="PNG")
    assert clean_photo(png.getvalue(), max_bytes=5_000_000)[:2] == b"\xff\xd8"
    with pytest.raises(InvalidInput, match=r"photo: .*GIF"):
        gif = io.BytesIO()
        Image.new("RGB", (10, 10)).save(gif, format="GIF")
        clean_photo(gif.getvalue(), max_bytes=5_000_000)
    with pytest.raises(InvalidInput, match="more than the limit"):
        clean_photo(b"x" * 2000, max_bytes=1024)
    with pytest.raises(InvalidInput, match="empty"):
        clean_photo(b"", max_bytes=1024)
