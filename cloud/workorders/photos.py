"""Photos taken on a job and the signature that signs it off: checked by their content
(JPEG, PNG or WebP, whatever the name or the declared type says), turned upright, re-encoded
from the pixels alone so that no EXIF (location included), ICC or text chunk survives, stored
with a thumbnail by job number in the file store (the data folder, or an S3 bucket:
`cloud.workorders.filestore`), their metadata in `work_order_photos`. The files are written
first, then the row: a store that fails refuses the photo (503) with nothing in the database,
and files whose row cannot be written are deleted again.

    work-orders/WO-000042/3f2a….jpg
    work-orders/WO-000042/3f2a…-thumb.jpg
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import uuid
import warnings
from dataclasses import dataclass
from datetime import datetime

from PIL import Image, ImageOps, UnidentifiedImageError
from sqlalchemy.orm import Session

from cloud.enums import Channel
from cloud.errors import Forbidden, InvalidInput, TooLarge, Unavailable
from cloud.locale import N_
from cloud.locale.composed import compose
from cloud.users.model import User
from cloud.workorders.commands import _opening
from cloud.workorders.filestore import FileStore
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


def store(files: FileStore, number: str, image: Cleaned) -> tuple[str, str]:
    """Write the image and its thumbnail under the job's folder: their keys."""
    name = uuid.uuid4().hex
    folder = f"work-orders/{number}"
    path, thumb = f"{folder}/{name}.{image.extension}", f"{folder}/{name}-thumb.jpg"
    files.put(path, image.data, image.content_type)
    try:
        files.put(thumb, image.thumb, "image/jpeg")
    except Exception:
        _forget(files, path)
        raise
    return path, thumb


def _forget(files: FileStore, *keys: str) -> None:
    """Delete files no row will name; one that cannot be deleted stays (an orphan)."""
    for key in keys:
        with contextlib.suppress(Unavailable):
            files.delete(key)


def add_photo(
    session: Session,
    work_order_id: int,
    data: bytes,
    *,
    user: User,
    now: datetime,
    files: FileStore,
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
            session, wo, image, files, kind=PHOTO, caption=caption, step=step, user=user, now=now
        )
        change.record(
            PHOTO,
            note=caption
            or compose(
                N_("photo %(width)s x %(height)s"),
                width=str(image.width),
                height=str(image.height),
            ),
            details={"photo": photo.id, "step": step, "sha256": photo.sha256},
        )
    return photo


def _saved(
    session: Session,
    wo: WorkOrder,
    image: Cleaned,
    files: FileStore,
    *,
    kind: str,
    caption: str | None,
    step: int | None,
    user: User,
    now: datetime,
) -> WorkOrderPhoto:
    path, thumb = store(files, wo.number, image)
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
    try:
        session.flush()  # the photo's id, for the audit trail
    except Exception:
        _forget(files, path, thumb)
        raise
    return photo


def sign_off(
    session: Session,
    work_order_id: int,
    signature: bytes,
    signer: str,
    *,
    user: User,
    now: datetime,
    files: FileStore,
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
            files,
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
            note=compose(
                N_("signed off by %(signer)s (was %(previous)s)"), signer=signer, previous=previous
            )
            if previous
            else compose(N_("signed off by %(signer)s"), signer=signer),
            details={"signer": signer, "photo": photo.id},
        )
    return wo
