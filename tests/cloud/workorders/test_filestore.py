"""The data-folder file store: whole files by key, nothing outside the folder, a folder that
cannot be written answered as the store being unavailable; and a photo whose thumbnail cannot
be kept leaves no half behind."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from cloud.errors import InvalidInput, NotFound, Unavailable
from cloud.workorders.filestore import MAX_KEY, DiskStore, S3Store, checked_key, file_store
from cloud.workorders.photos import clean_image, store
from plantroom.settings import CloudSettings
from tests.cloud.harness import camera_jpeg


def test_a_file_is_kept_read_back_and_deleted(tmp_path: Path) -> None:
    files = DiskStore(tmp_path / "data")
    files.put("work-orders/WO-000001/a.jpg", b"\xff\xd8jpeg", "image/jpeg")
    assert (
        tmp_path / "data" / "work-orders" / "WO-000001" / "a.jpg"
    ).read_bytes() == b"\xff\xd8jpeg"
    assert files.get("work-orders/WO-000001/a.jpg") == b"\xff\xd8jpeg"
    files.put("work-orders/WO-000001/a.jpg", b"second", "image/jpeg")
    assert files.get("work-orders/WO-000001/a.jpg") == b"second"
    assert list((tmp_path / "data" / "work-orders" / "WO-000001").iterdir()) == [
        tmp_path / "data" / "work-orders" / "WO-000001" / "a.jpg"
    ]  # no .part file left
    files.delete("work-orders/WO-000001/a.jpg")
    files.delete("work-orders/WO-000001/a.jpg")  # gone already: nothing to do
    with pytest.raises(NotFound, match="missing from the data folder"):
        files.get("work-orders/WO-000001/a.jpg")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/etc/passwd",
        "../secret",
        "work-orders/../../x",
        "a\\b",
        "./a",
        "a//b",
        "a/",
        "k" * (MAX_KEY + 1),
    ],
)
def test_a_key_outside_the_store_is_refused(tmp_path: Path, key: str) -> None:
    files = DiskStore(tmp_path)
    with pytest.raises(InvalidInput, match="file key"):
        checked_key(key)
    with pytest.raises(InvalidInput, match="file key"):
        files.put(key, b"x", "image/jpeg")
    with pytest.raises(InvalidInput, match="file key"):
        files.get(key)


def test_a_link_out_of_the_folder_is_not_followed(tmp_path: Path) -> None:
    (tmp_path / "outside.jpg").write_bytes(b"secret")
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    with pytest.raises(NotFound):
        DiskStore(tmp_path / "data").get("link.jpg")


def test_a_folder_that_cannot_be_written_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "data").write_text("a file where the folder should be")
    files = DiskStore(tmp_path / "data")
    with pytest.raises(Unavailable, match=r"the data folder .*data cannot be written") as caught:
        files.put("work-orders/WO-000001/a.jpg", b"x", "image/jpeg")
    assert caught.value.code == "file_store_unavailable"


class ThumbRefused(DiskStore):
    """The data folder, refusing any thumbnail (a store failing between the two writes)."""

    def put(self, key: str, data: bytes, content_type: str) -> None:
        if key.endswith("-thumb.jpg"):
            raise Unavailable("the test store refuses thumbnails")
        super().put(key, data, content_type)


def test_a_photo_whose_thumbnail_fails_leaves_nothing(tmp_path: Path) -> None:
    image = clean_image(camera_jpeg())
    with pytest.raises(Unavailable, match="refuses thumbnails"):
        store(ThumbRefused(tmp_path), "WO-000007", image)
    assert not list(tmp_path.rglob("*.jpg"))
    path, thumb = store(DiskStore(tmp_path), "WO-000007", image)
    assert path.startswith("work-orders/WO-000007/") and path.endswith(".jpg")
    assert thumb == path.removesuffix(".jpg") + "-thumb.jpg"
    assert (tmp_path / path).read_bytes() == image.data


def test_the_settings_choose_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test-key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret")
    disk = file_store(CloudSettings(data_dir=tmp_path / "data"))
    assert isinstance(disk, DiskStore) and disk.root == tmp_path / "data"
    s3 = file_store(
        CloudSettings(
            files_s3_bucket="plantroom-files",
            files_s3_endpoint_url="http://127.0.0.1:9",
            files_s3_region="eu-west-1",
            files_s3_prefix="hq/",
        )
    )
    assert isinstance(s3, S3Store) and s3.object_key("work-orders/a.jpg") == "hq/work-orders/a.jpg"
    assert s3.name == "the file store s3://plantroom-files/hq/"
    assert s3.client.meta.region_name == "eu-west-1"
    assert s3.client.meta.endpoint_url == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("files_s3_bucket", "Not_A_Bucket"),
        ("files_s3_prefix", "hq"),
        ("files_s3_prefix", "/hq/"),
        ("files_s3_endpoint_url", "minio:9000"),
        ("files_s3_timeout_s", 0),
    ],
)
def test_a_bad_store_setting_is_refused_by_name(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        CloudSettings.model_validate({field: value})
