"""What the API takes and gives about contact points and outbound messages."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from cloud.notify.model import OutboxStatus
from cloud.schemas import OutModel


class ContactPointIn(BaseModel):
    channel: str = Field(min_length=1, max_length=32, examples=["email"])
    address: str = Field(min_length=1, max_length=256, examples=["ann@example.com"])
    position: int | None = Field(default=None, ge=0, le=1000, description="lower: tried first")


class AdminContactPointIn(ContactPointIn):
    verified: bool = Field(default=False, description="the site vouches for the address")


class VerifyIn(BaseModel):
    code: str = Field(min_length=6, max_length=6, pattern=r"^\d{6}$")


class LanguageIn(BaseModel):
    language: Literal["en", "zh"]


class ContactPointOut(OutModel):
    id: int
    channel: str
    address: str
    position: int
    verified: bool
    verified_at: datetime | None
    code_sent_at: datetime | None
    created_at: datetime


class OutboxOut(OutModel):
    id: int
    user_id: int | None = Field(description="the person told; none: a contractor team's address")
    username: str | None = None
    team: str | None = Field(default=None, description="the contractor team told, if not a person")
    work_order_id: int
    incident_id: int | None
    stage: str
    kind: str
    channel: str | None
    address: str | None
    status: OutboxStatus
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    created_at: datetime
    sent_at: datetime | None
    message_id: str | None
    group_id: int | None
    acknowledged_at: datetime | None
