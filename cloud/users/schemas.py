"""What the API takes and gives about users, their tokens and teams."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AliasChoices, BaseModel, BeforeValidator, ConfigDict, Field

from cloud.enums import Role, Trade
from cloud.schemas import OutModel, examples


def _name(value: Any) -> Any:
    """A user's username or a team's name, where the row itself was given."""
    if value is None or isinstance(value, str):
        return value
    return value.username if hasattr(value, "username") else value.name


def _is_set(value: Any) -> Any:
    """Whether a password is set, where the stored hash (or its absence) was given."""
    return value if isinstance(value, bool) else value is not None


# A username (or team name), read from a user (or team) row.
Username = Annotated[str, BeforeValidator(_name)]
TeamName = Annotated[str, BeforeValidator(_name)]


class UserRef(OutModel):
    username: str
    display_name: str | None
    role: Role


class LoginIn(BaseModel):
    model_config = examples({"username": "pat", "password": "correct horse battery"})

    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class TokenOut(OutModel):
    token: str
    token_type: Literal["bearer"] = "bearer"
    expires_at: datetime | None
    user: UserRef


class UserOut(OutModel):
    username: str
    display_name: str | None
    role: Role
    active: bool
    has_password: Annotated[bool, BeforeValidator(_is_set)] = Field(
        validation_alias=AliasChoices("has_password", "password_hash")
    )
    created_at: datetime
    teams: list[TeamName]
    language: Literal["en", "zh"] = Field(
        description="of the console and of messages: en, or zh (Simplified Chinese)"
    )
    language_chosen: bool = Field(
        description="the person chose it; until then the console follows the browser's"
    )


class ProfileOut(UserOut):
    """The caller's own profile: what the console needs to show things their way."""

    time_zone: str = Field(description="the site's time zone (IANA), in which times are shown")


class ProfilePatch(BaseModel):
    """What anyone signed in may change of their own profile."""

    model_config = examples({"language": "zh"}, {"language": "en", "chosen": False})

    language: Literal["en", "zh"]
    chosen: bool = Field(
        default=True,
        description="false: the browser's language, recorded until the person chooses one",
    )


class UserPage(OutModel):
    items: list[UserOut]
    total: int
    limit: int
    offset: int


class UserIn(BaseModel):
    model_config = examples(
        {
            "username": "tech3",
            "role": "technician",
            "display_name": "Sam Lee",
            "teams": ["tower-a-lifts"],
        }
    )

    username: str = Field(min_length=1, max_length=64)
    role: Role
    display_name: str | None = Field(default=None, max_length=128)
    password: str | None = Field(default=None, min_length=8, max_length=1024)
    teams: list[str] = Field(default_factory=list, description="team names to join")
    token: bool = Field(default=True, description="issue a token for the new user")


class UserPatch(BaseModel):
    model_config = examples({"role": "supervisor"}, {"active": False})

    role: Role | None = None
    display_name: str | None = Field(default=None, max_length=128)
    active: bool | None = Field(default=None, description="false revokes every token")
    password: str | None = Field(default=None, min_length=8, max_length=1024)


class NewUserOut(OutModel):
    user: UserOut
    token: str | None = Field(description="shown once; only its hash is kept")


class TokenIn(BaseModel):
    model_config = examples({"ttl_days": 30, "label": "tablet in the plant room"})

    ttl_days: float | None = Field(default=None, gt=0, le=366, description="default 90")
    label: str | None = Field(default=None, max_length=64)


class RevokedOut(OutModel):
    revoked: int = Field(description="tokens revoked")


class TeamContact(BaseModel):
    """An address a contractor team's jobs are told to: a configured channel and the address
    on it."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    channel: str = Field(min_length=1, max_length=32, examples=["email"])
    address: str = Field(min_length=1, max_length=256, examples=["service@lifts.example.com"])


class ContractorFields(BaseModel):
    contractor: bool = Field(default=False, description="an outside company's team")
    company: str | None = Field(default=None, max_length=128, description="a contractor's")
    contacts: list[TeamContact] = Field(
        default_factory=list, max_length=10, description="a contractor's, tried in this order"
    )
    sign_off_required: bool = Field(
        default=False, description="a contractor's jobs resolve only once signed off"
    )
    language: Literal["en", "zh"] = Field(
        default="en", description="of the messages to a contractor's own addresses"
    )


class TeamIn(ContractorFields):
    model_config = examples(
        {"name": "tower-a-lifts", "trade": "lifts", "building": "tower-a"},
        {
            "name": "lift-contractor",
            "trade": "lifts",
            "contractor": True,
            "company": "Acme Lifts Ltd",
            "contacts": [{"channel": "email", "address": "service@lifts.example.com"}],
            "sign_off_required": True,
        },
    )

    name: str = Field(min_length=1, max_length=64)
    trade: Trade
    building: str | None = Field(default=None, description="none: every building")
    members: list[str] = Field(default_factory=list, description="usernames")


class TeamPatch(BaseModel):
    """A team's contractor terms; what is not given stays as it is."""

    model_config = examples({"contacts": [{"channel": "email", "address": "desk@lifts.example"}]})

    contractor: bool | None = None
    company: str | None = Field(default=None, max_length=128)
    contacts: list[TeamContact] | None = Field(default=None, max_length=10)
    sign_off_required: bool | None = None
    language: Literal["en", "zh"] | None = None


class TeamOut(OutModel):
    name: str
    trade: Trade
    building: str | None
    members: list[UserRef]
    contractor: bool
    company: str | None
    contacts: list[TeamContact] = Field(default_factory=list)
    sign_off_required: bool
    language: str


class TeamList(OutModel):
    items: list[TeamOut]
    total: int
