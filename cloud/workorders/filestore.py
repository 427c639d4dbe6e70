"""Where the cloud keeps files (job photos, their thumbnails, signatures): a key such as
`work-orders/WO-000042/3f2a….jpg` names one, in whichever store is configured.

- `DiskStore`: under the data folder, the key its relative path (`PLANTROOM_DATA_DIR`).
- `S3Store`: objects in an S3-compatible bucket (`PLANTROOM_FILES_S3_*`), the key after an
  optional prefix. Objects are written with no ACL, so private; the API serves them itself.

A store that cannot be reached is `Unavailable` (503) naming the store; a missing key is
`NotFound`. The database keeps the key only, so a row means the same file in either store (but
files are not moved between stores when the setting changes: copy them, keys unchanged).
"""

from __future__ import annotations

import contextlib
import os
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from cloud.errors import InvalidInput, NotFound, Unavailable
from plantroom.settings import CloudSettings

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

MAX_KEY = 512  # characters of a key (S3 allows 1024 bytes, with the prefix)
UNAVAILABLE = "file_store_unavailable"
MISSING = {"NoSuchKey", "404", "NotFound"}


class FileStore(Protocol):
    """Whole files in, whole files out, by key."""

    @property
    def name(self) -> str:
        """The store, as an error message names it."""
        ...

    def put(self, key: str, data: bytes, content_type: str) -> None:
        """Keep `data` at `key`, whole or not at all; Unavailable if the store fails."""
        ...

    def get(self, key: str) -> bytes:
        """The file at `key`; NotFound if there is none, Unavailable if the store fails."""
        ...

    def delete(self, key: str) -> None:
        """Forget the file at `key` (none there: nothing to do)."""
        ...

    def close(self) -> None:
        """Let go of the store's connections (at the service's stop)."""
        ...


def checked_key(key: str) -> str:
    """`key` if it is a plain relative path of at most MAX_KEY characters; InvalidInput else."""
    if len(key) > MAX_KEY or "\\" in key or any(p in {"", ".", ".."} for p in key.split("/")):
        raise InvalidInput(f"file key {key[:80]!r}: not a relative path of at most {MAX_KEY}")
    return key


class DiskStore:
    """Files under `root`, each written to a `.part` file and then renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.name = f"the data folder {root}"

    def path_of(self, key: str) -> Path:
        """The file at `key`, kept inside the data folder; NotFound if it is not there."""
        root = self.root.resolve()
        path = (root / checked_key(key)).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise NotFound("the photo's file is missing from the data folder")
        return path

    def put(self, key: str, data: bytes, content_type: str) -> None:
        path = self.root / checked_key(key)
        part = path.with_name(f"{path.name}.{uuid.uuid4().hex[:8]}.part")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            part.write_bytes(data)
            os.replace(part, path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                part.unlink(missing_ok=True)
            raise Unavailable(f"{self.name} cannot be written: {exc}", code=UNAVAILABLE) from exc

    def get(self, key: str) -> bytes:
        return self.path_of(key).read_bytes()

    def delete(self, key: str) -> None:
        (self.root / checked_key(key)).unlink(missing_ok=True)

    def close(self) -> None:
        """Nothing held open between calls."""


class S3Store:
    """Objects in one bucket of an S3-compatible store, each key after `prefix`."""

    def __init__(self, client: S3Client, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix
        self.name = f"the file store s3://{bucket}/{prefix}"

    def object_key(self, key: str) -> str:
        return self.prefix + checked_key(key)

    def _failed(self, doing: str, exc: Exception) -> Unavailable:
        return Unavailable(f"{self.name} cannot {doing}: {exc}", code=UNAVAILABLE)

    def put(self, key: str, data: bytes, content_type: str) -> None:
        try:
            self.client.put_object(
                Bucket=self.bucket,
                Key=self.object_key(key),
                Body=data,
                ContentType=content_type,
            )  # no ACL: private, and buckets with ACLs disabled (AWS's default) refuse one
        except (BotoCoreError, ClientError) as exc:
            raise self._failed("be written", exc) from exc

    def get(self, key: str) -> bytes:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self.object_key(key))
            return answer["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in MISSING:
                raise NotFound(f"the photo's file is missing from {self.name}") from exc
            raise self._failed("be read", exc) from exc
        except BotoCoreError as exc:
            raise self._failed("be read", exc) from exc

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self.object_key(key))
        except (BotoCoreError, ClientError) as exc:
            raise self._failed("delete a file", exc) from exc

    def close(self) -> None:
        self.client.close()


def s3_client(settings: CloudSettings) -> S3Client:
    """A client of the configured store; its credentials come from the AWS chain."""
    timeout = settings.files_s3_timeout_s
    config = Config(
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 2, "mode": "standard"},
    )
    return boto3.client(
        "s3",
        endpoint_url=settings.files_s3_endpoint_url,
        region_name=settings.files_s3_region,
        config=config,
    )


def file_store(settings: CloudSettings) -> FileStore:
    """The S3 store when a bucket is set, else the data folder."""
    if settings.files_s3_bucket:
        return S3Store(s3_client(settings), settings.files_s3_bucket, settings.files_s3_prefix)
    return DiskStore(settings.data_dir)
