"""A job worked on a phone: checklist steps with readings, photos and sign-off.
Every change here is idempotent with an `Idempotency-Key` (cloud/api/idempotency.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, File, Form, Path, Query, Response, UploadFile, status
from fastapi.responses import FileResponse
from sqlalchemy.orm import Session

from cloud.api.errors import AUTH_RESPONSES, errors
from cloud.api.idempotency import ActionId, once
from cloud.api.language import reader
from cloud.api.workorders import ACTION_ERRORS, NOT_FOUND, Ref, _detail, _id
from cloud.deps import AnyUser, IdPath, SessionDep, StateDep, answer, one_writer
from cloud.enums import Channel
from cloud.errors import NotFound
from cloud.schemas import ChannelIn
from cloud.workorders import photos, queries, steps
from cloud.workorders.filestore import DiskStore
from cloud.workorders.model import WorkOrderPhoto
from cloud.workorders.schemas import PhotoOut, StepIn

STORE_DOWN = errors({503: "the file store does not answer (try again)"})
PHOTO_HEADERS = {"Cache-Control": "private, max-age=86400", "X-Content-Type-Options": "nosniff"}

router = APIRouter(prefix="/work-orders", tags=["work orders"], responses=AUTH_RESPONSES)


def _file(upload: UploadFile, limit: int) -> bytes:
    """The uploaded file's bytes, reading at most one past `limit` (the caller refuses it)."""
    return upload.file.read(limit + 1)


@router.post("/{ref}/steps/{index}", response_model=None, responses=ACTION_ERRORS)
def record_step(
    ref: Ref,
    index: Annotated[int, Path(ge=0, le=999, description="the step's position, from 0")],
    body: StepIn,
    state: StateDep,
    session: SessionDep,
    user: AnyUser,
    key: ActionId = None,
) -> Response:
    """Answer one checklist step: pass, fail (a note is required) or na; with the reading
    where the step asks for one (in the step's unit, or another of the same dimension given
    as `unit`). An out-of-limit reading is flagged (`out_of_limits`); on a step whose plan
    says `follow_up: true` it raises a follow-up job, linked by `parent_id`, once."""
    work_order_id = _id(session, ref, user)
    with one_writer(session):
        wo = once(
            session,
            key,
            lambda: steps.record_step(
                session,
                work_order_id,
                index,
                result=body.result,
                value=body.value,
                unit=body.unit,
                note=body.note,
                user=user,
                now=state.clock(),
                sla=state.sla,
                channel=Channel(body.channel),
            ),
            lambda _event: queries.get(session, work_order_id, with_events=True),
        )
        return _detail(session, wo, reader(state, user))


@router.post(
    "/{ref}/photos",
    response_model=PhotoOut,
    status_code=status.HTTP_201_CREATED,
    responses={
        **ACTION_ERRORS,
        **STORE_DOWN,
        413: {"description": "the file is over the photo size limit"},
    },
)
def add_photo(
    ref: Ref,
    state: StateDep,
    session: SessionDep,
    user: AnyUser,
    file: Annotated[UploadFile, File(description="JPEG, PNG or WebP, checked by content")],
    caption: Annotated[str | None, Form(max_length=500)] = None,
    step: Annotated[int | None, Form(ge=0, le=999, description="the step it shows")] = None,
    channel: Annotated[ChannelIn, Form()] = "api",
    key: ActionId = None,
) -> Response:
    """A photo of the job (multipart `file`). Its location data and all EXIF are stripped
    before it is stored, with a thumbnail, in the file store (the data folder or an S3
    bucket); a store that fails refuses it with `503 file_store_unavailable`."""
    settings = state.settings
    data = _file(file, settings.photo_max_bytes)
    work_order_id = _id(session, ref, user)
    with one_writer(session):
        photo = once(
            session,
            key,
            lambda: photos.add_photo(
                session,
                work_order_id,
                data,
                user=user,
                now=state.clock(),
                files=state.files(),
                max_bytes=settings.photo_max_bytes,
                caption=caption,
                step=step,
                channel=Channel(channel),
            ),
            lambda event: _photo(session, work_order_id, int((event.details or {})["photo"])),
        )
        return answer(session, PhotoOut.model_validate(photo), status.HTTP_201_CREATED)


@router.post("/{ref}/sign-off", response_model=None, responses={**ACTION_ERRORS, **STORE_DOWN})
def sign_off(
    ref: Ref,
    state: StateDep,
    session: SessionDep,
    user: AnyUser,
    signature: Annotated[UploadFile, File(description="the signature drawn, as a PNG")],
    signer: Annotated[str, Form(min_length=1, max_length=128, description="who signs")],
    channel: Annotated[ChannelIn, Form()] = "api",
    key: ActionId = None,
) -> Response:
    """Sign the job off: the signature drawn on the screen (multipart `signature`, PNG) and
    the signer's name; the time is the service's. A job whose plan says `sign_off: required`
    resolves only once signed off (`409 sign_off_missing`)."""
    settings = state.settings
    data = _file(signature, settings.photo_max_bytes)
    work_order_id = _id(session, ref, user)
    with one_writer(session):
        wo = once(
            session,
            key,
            lambda: photos.sign_off(
                session,
                work_order_id,
                data,
                signer,
                user=user,
                now=state.clock(),
                files=state.files(),
                max_bytes=settings.photo_max_bytes,
                channel=Channel(channel),
            ),
            lambda _event: queries.get(session, work_order_id, with_events=True),
        )
        return _detail(session, wo, reader(state, user))


def _photo(session: Session, work_order_id: int, photo_id: int) -> WorkOrderPhoto:
    photo = session.get(WorkOrderPhoto, photo_id)
    if photo is None or photo.work_order_id != work_order_id:
        raise NotFound(f"work order {work_order_id} has no photo {photo_id}")
    return photo


@router.get(
    "/{ref}/photos/{photo_id}",
    response_class=FileResponse,
    responses={
        **NOT_FOUND,
        200: {"content": {"image/*": {}}},
        **STORE_DOWN,
    },
)
def get_photo(
    ref: Ref,
    photo_id: IdPath,
    state: StateDep,
    session: SessionDep,
    user: AnyUser,
    thumb: Annotated[bool, Query(description="the thumbnail (JPEG, 320 px)")] = False,
) -> Response:
    """A photo or signature of the job, to signed-in users only."""
    photo = _photo(session, _id(session, ref, user), photo_id)
    key, media = (photo.thumb_path, "image/jpeg") if thumb else (photo.path, photo.content_type)
    session.commit()
    files = state.files()
    if isinstance(files, DiskStore):
        return FileResponse(files.path_of(key), media_type=media, headers=PHOTO_HEADERS)
    return Response(files.get(key), media_type=media, headers=PHOTO_HEADERS)
