"""fastapi-users glue: the user store and the manager that hashes, creates and resets."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from fastapi import Request
from fastapi.security import OAuth2PasswordRequestForm
from fastapi_users import BaseUserManager, InvalidPasswordException, UUIDIDMixin, schemas
from fastapi_users.db import BaseUserDatabase
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.config import Settings
from streamweave.db.models import User
from streamweave.services.mail import send_mail

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 8


# fastapi-users' UserProtocol declares plain attributes; our columns are typed as
# SQLAlchemy Mapped[...] descriptors, which are the same values on an instance.
class UserStore(BaseUserDatabase[User, uuid.UUID]):  # type: ignore[type-var]
    """Users in our database. Writes flush, never commit: the caller commits the change
    together with its audit entry. Soft-deleted users do not exist for authentication."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, id: uuid.UUID) -> User | None:
        user: User | None = await self.session.scalar(
            select(User).where(User.id == id, User.deleted_at.is_(None))
        )
        return user

    async def get_by_email(self, email: str) -> User | None:
        # Deleted users are found here on purpose: their e-mail stays taken.
        user: User | None = await self.session.scalar(
            select(User).where(func.lower(User.email) == func.lower(email))
        )
        return user

    async def create(self, create_dict: dict[str, Any]) -> User:
        user = User(**create_dict)
        self.session.add(user)
        await self.session.flush()
        return user

    async def update(self, user: User, update_dict: dict[str, Any]) -> User:
        for key, value in update_dict.items():
            setattr(user, key, value)
        await self.session.flush()
        return user

    async def delete(self, user: User) -> None:
        raise NotImplementedError("users are soft-deleted through the users service")


class UserManager(UUIDIDMixin, BaseUserManager[User, uuid.UUID]):  # type: ignore[type-var]
    def __init__(self, store: UserStore, settings: Settings) -> None:
        super().__init__(store)
        self.settings = settings
        self.reset_password_token_secret = settings.jwt_secret
        self.verification_token_secret = settings.jwt_secret

    async def validate_password(self, password: str, user: schemas.UC | User) -> None:
        if len(password) < MIN_PASSWORD_LENGTH:
            raise InvalidPasswordException(
                reason=f"Password must be at least {MIN_PASSWORD_LENGTH} characters long"
            )
        if user.email.lower() in password.lower():
            raise InvalidPasswordException(reason="Password must not contain the e-mail address")

    async def authenticate(self, credentials: OAuth2PasswordRequestForm) -> User | None:
        user = await super().authenticate(credentials)
        if user is None or user.deleted_at is not None or not user.is_active:
            return None
        return user

    async def on_after_forgot_password(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        link = f"{self.settings.public_url.rstrip('/')}/reset-password?token={token}"
        await send_mail(
            self.settings,
            user.email,
            "StreamWeave password reset",
            f"Someone asked to reset the password of {user.email}.\n\n"
            f"Set a new password here (the link is valid for one hour):\n{link}\n\n"
            "If it was not you, ignore this message.",
        )

    async def on_after_request_verify(
        self, user: User, token: str, request: Request | None = None
    ) -> None:
        link = f"{self.settings.public_url.rstrip('/')}/verify?token={token}"
        await send_mail(
            self.settings,
            user.email,
            "Verify your StreamWeave account",
            f"Confirm the address {user.email} here:\n{link}\n",
        )
