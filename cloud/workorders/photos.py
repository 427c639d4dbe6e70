"""Photos taken on a job and the signature that signs it off: checked by their content
(JPEG, PNG or WebP, whatever the name or the declared type says), turned upright, re-encoded
from the pixels alone so that no EXIF (location included), ICC or text chunk survives, stored
with a thumbnail under the data folder by job number, their metadata in `work_order_photos`.

    <data_dir>/work-orders/WO-000042/3f2a….jpg
    <data_dir>/work-orders/WO-000042/3f2a…-thumb.jpg
"""

from __future__ import annotations

import hashlib
import io
import os
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from cloud.enums import Channel
from cloud.errors import Forbidden, InvalidInput, NotFound, TooLarge
from cloud.users.model import User
from cloud.workorders.commands import _opening
from cloud.workorders.model import WorkOrder, WorkOrderPhoto
from cloud.workorders.rules import WORKERS, checklist_of, plan_tick

FORMATS = {
    "JPEG": ("image/jpeg", "jpg"),
    "PNG": ("image/png", "png"),
    "WEBP": ("image/webp", "webp"),
}
MAX_PIXELS = 50_000_000  # a 50-megapixel camera; larger is refused before it is decoded
THUMB_PX = 320
PHOTO = "photo"
SIGNATURE = "signature"


@dataclass(frozen=True, slots=True)
class Cleaned:
    """An image re-encoded from its pixels alone, and its thumbnail (JPEG)."""

    data: bytes
    content_type: str
    extension: str
    width: int
    height: int
    thumb: bytes


def clean_image(data: bytes, *, formats: frozenset[str] = frozenset(FORMATS)) -> Cleaned:
    """`data` checked by content and re-encoded without metadata; InvalidInput otherwise."""
    accepted = ", ".join(sorted(formats))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                kind = img.format or "unknown"
                if kind not in formats:
                    raise InvalidInput(f"file: a {kind} image is not accepted (only {accepted})")
                if img.width * img.height > MAX_PIXELS:
                    raise InvalidInput(
                        f"file: {img.width} x {img.height} pixels is more than {MAX_PIXELS:,}"
                    )
                upright = ImageOps.exif_transpose(img)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidInput(f"file: not an image of an accepted kind ({accepted})") from None
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt image data
        raise InvalidInput(f"file: the image cannot be read ({exc})") from None
    alpha = "A" in upright.getbands() or "transparency" in upright.info
    mode = "RGBA" if alpha and kind != "JPEG" else "RGB"
    pixels = upright.convert(mode)
    bare = Image.frombytes(mode, pixels.size, pixels.tobytes())  # nothing but the pixels
    out = io.BytesIO()
    if kind == "JPEG":
        bare.save(out, "JPEG", quality=90)
    elif kind == "PNG":
        bare.save(out, "PNG", optimize=True)
    else:
        bare.save(out, "WEBP", quality=90)
    thumb = bare.copy()
    thumb.thumbnail((THUMB_PX, THUMB_PX))
    flat = Image.new("RGB", thumb.size, "white")
    flat.paste(thumb, mask=thumb.getchannel("A") if mode == "RGBA" else None)
    small = io.BytesIO()
    flat.save(small, "JPEG", quality=80)
    content_type, extension = FORMATS[kind]
    return Cleaned(
        out.getvalue(), content_type, extension, bare.width, bare.height, small.getvalue()
    )


def _write(path: Path, data: bytes) -> None:
    """Write `data` to `path` whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + ".part")
    part.write_bytes(data)
    os.replace(part, path)


def store(data_dir: Path, number: str, image: Cleaned) -> tuple[str, str]:
    """Write the image and its thumbnail under the job's folder: their relative paths."""
    name = uuid.uuid4().hex
    folder = Path("work-orders") / number
    path, thumb = folder / f"{name}.{image.extension}", folder / f"{name}-thumb.jpg"
    _write(data_dir / path, image.data)
    _write(data_dir / thumb, image.thumb)
    return path.as_posix(), thumb.as_posix()


def file_of(data_dir: Path, relative: str) -> Path:
    """The stored file at `relative`, kept inside the data folder."""
    root = data_dir.resolve()
    path = (root / relative).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise NotFound("the photo's file is missing from the data folder")
    return path


def add_photo(
    session: Session,
    work_order_id: int,
    data: bytes,
    *,
    user: User,
    now: datetime,
    data_dir: Path,
    max_bytes: int,
    caption: str | None = None,
    step: int | None = None,
    channel: Channel = Channel.API,
) -> WorkOrderPhoto:
    """A photo of the job (optionally of one checklist step), stored and audited."""
    if user.role not in WORKERS:
        raise Forbidden(f"the {user.role.value} role may not add photos to work orders")
    if len(data) > max_bytes:
        raise TooLarge(f"file: {len(data)} bytes is more than the limit of {max_bytes} bytes")
    if caption is not None and len(caption) > 500:
        raise InvalidInput("caption: at most 500 characters")
    image = clean_image(data)
    with _opening(session, work_order_id, user=user, now=now, channel=channel) as change:
        wo = change.wo
        if step is not None and not 0 <= step < len(checklist_of(wo) or []):
            raise InvalidInput(f"step: work order {wo.number} has no checklist step {step + 1}")
        photo = _saved(
            session, wo, image, data_dir, kind=PHOTO, caption=caption, step=step, user=user, now=now
        )
        change.record(
            PHOTO,
            note=caption or f"photo {image.width} x {image.height}",
            details={"photo": photo.id, "step": step, "sha256": photo.sha256},
        )
    return photo


def _saved(
    session: Session,
    wo: WorkOrder,
    image: Cleaned,
    data_dir: Path,
    *,
    kind: str,
    caption: str | None,
    step: int | None,
    user: User,
    now: datetime,
) -> WorkOrderPhoto:
    path, thumb = store(data_dir, wo.number, image)
    photo = WorkOrderPhoto(
        kind=kind,
        path=path,
        thumb_path=thumb,
        content_type=image.content_type,
        width=image.width,
        height=image.height,
        size=len(image.data),
        sha256=hashlib.sha256(image.data).hexdigest(),
        caption=caption.strip() if caption and caption.strip() else None,
        step=step,
        added_by=user.username,
        added_at=now,
    )
    wo.photos.append(photo)
    session.flush()  # the photo's id, for the audit trail
    return photo


def sign_off(
    session: Session,
    work_order_id: int,
    signature: bytes,
    signer: str,
    *,
    user: User,
    now: datetime,
    data_dir: Path,
    max_bytes: int,
    channel: Channel = Channel.API,
) -> WorkOrder:
    """The job signed off: the signature drawn (a PNG) with the signer's name, at `now`."""
    signer = signer.strip()
    if not signer:
        raise InvalidInput("signer: the name of the person signing is required")
    if len(signer) > 128:
        raise InvalidInput("signer: at most 128 characters")
    if len(signature) > max_bytes:
        raise TooLarge(f"signature: {len(signature)} bytes is more than {max_bytes} bytes")
    image = clean_image(signature, formats=frozenset({"PNG"}))
    with _opening(session, work_order_id, user=user, now=now, channel=channel) as change:
        wo = change.wo
        plan_tick(
            wo.number, status=wo.status, role=user.role, is_assignee=wo.assignee_id == user.id
        )
        photo = _saved(
            session,
            wo,
            image,
            data_dir,
            kind=SIGNATURE,
            caption=signer,
            step=None,
            user=user,
            now=now,
        )
        previous = wo.signed_by
        wo.signed_by = signer
        wo.signed_at = now
        change.record(
            "sign_off",
            note=f"signed off by {signer}" + (f" (was {previous})" if previous else ""),
            details={"signer": signer, "photo": photo.id},
        )
    return wo
