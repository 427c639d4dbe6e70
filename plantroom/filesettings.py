"""The cloud's settings for where it keeps files (job photos and signatures): the data folder,
or an S3-compatible object store (AWS S3, MinIO, Ceph, Cloudflare R2, ...) when a bucket is set.

A mixin of `plantroom.settings.CloudSettings`, kept apart so the settings module stays small;
the variables are `PLANTROOM_FILES_*`. The store's credentials are not settings of their own:
they are found as every S3 client finds them (`AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`,
`AWS_PROFILE`, the shared credentials file, or the machine's instance role), docs/deploy.md.
"""

from __future__ import annotations

from pydantic import Field

from plantroom.settingtypes import SettingsGroup


class FileSettings(SettingsGroup):
    """Where photos and signatures are written and read back (cloud.workorders.filestore)."""

    files_s3_bucket: str = Field(
        default="",
        max_length=63,
        pattern=r"^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$",
        description="S3 bucket the files are kept in (private objects, served through the"
        " API); empty: the data folder (`PLANTROOM_DATA_DIR`)",
    )
    files_s3_endpoint_url: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^https?://",
        description="the S3-compatible store's URL (MinIO, Ceph, R2, ...); none: AWS S3",
    )
    files_s3_region: str | None = Field(
        default=None,
        max_length=64,
        description="the bucket's region; none: the AWS configuration's (`AWS_REGION`)",
    )
    files_s3_prefix: str = Field(
        default="",
        max_length=512,
        pattern=r"^([A-Za-z0-9._-]+/)*$",
        description="prepended to every object key, e.g. `plantroom/` (empty, or ending in /)",
    )
    files_s3_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="to connect to the store, and to wait for each of its answers (a request is"
        " tried twice)",
    )
