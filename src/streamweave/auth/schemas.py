"""The user shapes fastapi-users works with."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from fastapi_users import schemas

Role = Literal["admin", "user"]


class UserRead(schemas.BaseUser[uuid.UUID]):
    role: Role
    created_at: datetime | None = None
    deleted_at: datetime | None = None


class UserCreate(schemas.BaseUserCreate):
    # Honoured only when an admin registers the user; ignored on self-registration.
    role: Role = "user"

    def create_update_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = super().create_update_dict()  # type: ignore[no-untyped-call]
        data.pop("role", None)
        return data
