from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from streamweave.api.schemas.common import InputModel, ORMModel
from streamweave.auth.schemas import Role, UserCreate, UserRead

__all__ = ["Role", "UserCreate", "UserRead"]


class UserSelfUpdate(BaseModel):
    """PATCH /users/me: e-mail and password only; anything else is ignored."""

    email: EmailStr | None = None
    password: str | None = None


class UserAdminUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr | None = None
    password: str | None = None
    role: Role | None = None
    is_active: bool | None = None
    is_verified: bool | None = None
    is_superuser: bool | None = None


class MembershipSummary(ORMModel):
    id: uuid.UUID
    name: str
    description: str | None = None


class MeRead(UserRead):
    groups: list[MembershipSummary]
    projects: list[MembershipSummary]


class TokenCreate(InputModel):
    name: str = Field(min_length=1, max_length=200)
    expires_in_days: int | None = Field(default=None, ge=1, le=3650)


class TokenRead(ORMModel):
    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class TokenCreated(TokenRead):
    token: str = Field(description="The token itself; shown only in this response")


class GroupCreate(InputModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class GroupUpdate(InputModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=2000)


class GroupRead(ORMModel):
    id: uuid.UUID
    name: str
    description: str | None
    created_at: datetime
    updated_at: datetime
    deleted_at: datetime | None


class GroupMemberCreate(InputModel):
    user_id: uuid.UUID


class GroupMemberRead(BaseModel):
    group_id: uuid.UUID
    user_id: uuid.UUID
    email: str


class ProjectMemberCreate(InputModel):
    member_type: Literal["user", "group"]
    member_id: uuid.UUID


class ProjectMemberRead(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    member_type: str
    member_id: uuid.UUID
    email: str | None = None
    name: str | None = None
