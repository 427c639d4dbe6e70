"""Job photos and signatures kept in an S3-compatible store (moto's S3 server, a real HTTP
endpoint on a free port): sent and read back through the API as from the data folder, kept
under the expected key without their location data, private; a store that is down refuses a
photo with 503 naming the store and leaves no row behind."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import httpx
import pytest
from moto.server import ThreadedMotoServer
from PIL import Image
from sqlalchemy import func, select

from cloud.workorders.model import WorkOrderPhoto
from plantroom.ports import free_port
from tests.cloud.harness import (
    CAMERA_MAKE,
    GPS_IFD,
    STAFF,
    Api,
    camera_jpeg,
    error,
    lift_visit_started,
    png,
    serve,
    settings_for,
)

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

pytestmark = pytest.mark.integration

BUCKET = "plantroom-photos"
PREFIX = "site-a/"


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """The AWS credential chain pointed at test keys, and at nothing of this machine's."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "test-key",
        "AWS_SECRET_ACCESS_KEY": "test-secret",
        "AWS_CONFIG_FILE": str(tmp_path / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "no-aws-credentials"),
    }.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def s3_url(aws_env: None) -> Iterator[str]:
    """moto's S3 server on a free port, emptied."""
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        httpx.post(f"{url}/moto-api/reset", timeout=10).raise_for_status()
        yield url
    finally:
        server.stop()


@contextmanager
def s3(url: str) -> Iterator[S3Client]:
    """A client of the test's own, to look into the store behind the API."""
    client = boto3.client("s3", endpoint_url=url, region_name="us-east-1")
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def bucket(s3_url: str) -> Iterator[S3Client]:
    """The test's client of the store, the bucket made."""
    with s3(s3_url) as client:
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.fixture
async def api(tmp_path: Path, s3_url: str, bucket: S3Client) -> AsyncIterator[Api]:
    settings = settings_for(
        tmp_path,
        data_dir=tmp_path / "data",
        photo_max_bytes=200_000,
        files_s3_bucket=BUCKET,
        files_s3_endpoint_url=s3_url,
        files_s3_region="us-east-1",
        files_s3_prefix=PREFIX,
        files_s3_timeout_s=2,
    )
    async with serve(settings, users=STAFF) as a:
        yield a


def photo_rows(api: Api) -> list[WorkOrderPhoto]:
    with api.db.session() as session:
        return list(session.scalars(select(WorkOrderPhoto).order_by(WorkOrderPhoto.id)))


async def test_a_photo_is_kept_in_the_bucket_without_its_location(
    api: Api, bucket: S3Client, tmp_path: Path
) -> None:
    wo = await lift_visit_started(api)
    files = {"file": ("IMG_0001.jpg", camera_jpeg(), "image/jpeg")}
    sent = await api.post(f"/api/work-orders/{wo}/photos", files=files, data={"caption": "pit"})
    assert sent.status_code == 201, sent.text
    photo = sent.json()

    (row,) = photo_rows(api)
    assert row.path.startswith("work-orders/WO-") and row.thumb_path.endswith("-thumb.jpg")
    client = bucket
    listed = client.list_objects_v2(Bucket=BUCKET)
    keys = sorted(o["Key"] for o in listed.get("Contents", []))
    assert keys == sorted([PREFIX + row.path, PREFIX + row.thumb_path])
    kept = client.get_object(Bucket=BUCKET, Key=PREFIX + row.path)
    assert kept["ContentType"] == "image/jpeg"
    body = kept["Body"].read()
    assert b"Exif" not in body and CAMERA_MAKE.encode() not in body
    assert GPS_IFD not in Image.open(io.BytesIO(body)).getexif()
    acl = client.get_object_acl(Bucket=BUCKET, Key=PREFIX + row.path)
    assert all("AllUsers" not in str(g.get("Grantee", {})) for g in acl["Grants"])
    assert not (tmp_path / "data" / "work-orders").exists()  # nothing in the data folder

    served = await api.get(photo["url"])
    assert served.status_code == 200, served.text
    assert served.content == body
    assert served.headers["content-type"] == "image/jpeg"
    assert served.headers["cache-control"] == "private, max-age=86400"
    assert served.headers["x-content-type-options"] == "nosniff"
    thumb = await api.get(photo["url"] + "?thumb=true")
    assert max(Image.open(io.BytesIO(thumb.content)).size) == 320
    assert (await api.get(photo["url"], who=None)).status_code == 401

    # a signature goes to the bucket the same way
    signed = await api.post(
        f"/api/work-orders/{wo}/sign-off",
        files={"signature": ("sig.png", png(), "image/png")},
        data={"signer": "A. Client"},
    )
    assert signed.status_code == 200, signed.text
    signature = photo_rows(api)[-1]
    assert signature.kind == "signature" and signature.content_type == "image/png"
    stored = client.get_object(Bucket=BUCKET, Key=PREFIX + signature.path)
    assert stored["ContentType"] == "image/png"
    served_sig = await api.get(f"/api/work-orders/{wo}/photos/{signature.id}")
    assert served_sig.content == stored["Body"].read()

    # an object gone from the bucket is a 404, not a server error; a bucket gone is a 503
    client.delete_object(Bucket=BUCKET, Key=PREFIX + row.path)
    error(await api.get(photo["url"]), 404, "not_found")
    for left in client.list_objects_v2(Bucket=BUCKET).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=left["Key"])
    client.delete_bucket(Bucket=BUCKET)
    gone = await api.get(f"/api/work-orders/{wo}/photos/{signature.id}")
    assert f"s3://{BUCKET}/{PREFIX}" in error(gone, 503, "file_store_unavailable")


async def test_a_store_that_is_down_refuses_the_photo_and_keeps_no_row(
    tmp_path: Path, aws_env: None
) -> None:
    nothing_there = f"http://127.0.0.1:{free_port()}"
    settings = settings_for(
        tmp_path,
        data_dir=tmp_path / "data",
        files_s3_bucket=BUCKET,
        files_s3_endpoint_url=nothing_there,
        files_s3_region="us-east-1",
        files_s3_timeout_s=2,
    )
    async with serve(settings, users=STAFF) as api:
        wo = await lift_visit_started(api)
        files = {"file": ("IMG_0001.jpg", camera_jpeg(), "image/jpeg")}
        refused = await api.post(f"/api/work-orders/{wo}/photos", files=files)
        message = error(refused, 503, "file_store_unavailable")
        assert f"s3://{BUCKET}/" in message and "cannot be written" in message
        signature = {"signature": ("sig.png", png(), "image/png")}
        refused = await api.post(
            f"/api/work-orders/{wo}/sign-off", files=signature, data={"signer": "A. Client"}
        )
        error(refused, 503, "file_store_unavailable")
        with api.db.session() as session:
            assert session.scalar(select(func.count()).select_from(WorkOrderPhoto)) == 0
        detail = (await api.get(f"/api/work-orders/{wo}")).json()
        assert detail["photos"] == [] and detail["signed_by"] is None
        audit = (await api.get(f"/api/work-orders/{wo}/audit")).json()
        assert not {"photo", "sign_off"} & {e["action"] for e in audit}


async def test_a_bucket_missing_from_the_store_refuses_the_photo(
    api: Api, bucket: S3Client
) -> None:
    client = bucket
    client.delete_bucket(Bucket=BUCKET)
    wo = await lift_visit_started(api)
    files = {"file": ("IMG_0001.jpg", camera_jpeg(), "image/jpeg")}
    refused = await api.post(f"/api/work-orders/{wo}/photos", files=files)
    assert "NoSuchBucket" in error(refused, 503, "file_store_unavailable")
    assert photo_rows(api) == []
