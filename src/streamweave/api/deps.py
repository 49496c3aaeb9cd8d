"""Request dependencies: the database session, the caller, the caller's principals."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, HTTPException, Query, Request, status
from fastapi.security import APIKeyCookie, OAuth2PasswordBearer
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.api.context import AppContext
from streamweave.auth.manager import UserManager, UserStore
from streamweave.auth.sessions import authenticate_token
from streamweave.db.models import User
from streamweave.services.access import Principals, principals_of
from streamweave.services.pagination import DEFAULT_LIMIT, MAX_LIMIT

COOKIE_NAME = "streamweave_auth"

# Declared for the OpenAPI "Authorize" button; the work is done in current_user.
_bearer = OAuth2PasswordBearer(tokenUrl="/auth/jwt/login", auto_error=False)
_cookie = APIKeyCookie(name=COOKIE_NAME, auto_error=False)


def get_context(request: Request) -> AppContext:
    context: AppContext = request.app.state.context
    return context


Context = Annotated[AppContext, Depends(get_context)]


async def get_session(context: Context) -> AsyncIterator[AsyncSession]:
    async with context.sessionmaker() as session:
        yield session


Session = Annotated[AsyncSession, Depends(get_session)]


def get_user_manager(session: Session, context: Context) -> UserManager:
    return UserManager(UserStore(session), context.settings)


Manager = Annotated[UserManager, Depends(get_user_manager)]


def request_token(bearer: str | None, cookie: str | None) -> str | None:
    return bearer or cookie


async def optional_user(
    session: Session,
    context: Context,
    bearer: Annotated[str | None, Depends(_bearer)],
    cookie: Annotated[str | None, Depends(_cookie)],
) -> User | None:
    token = request_token(bearer, cookie)
    if not token:
        return None
    return await authenticate_token(session, context.sessions, token)


async def current_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "Not authenticated: log in or send a valid token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def current_admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "Administrator role required")
    return user


Admin = Annotated[User, Depends(current_admin)]


async def current_admin_or_404(user: CurrentUser) -> User:
    """For routes naming one admin-only resource: to anyone else it does not exist."""
    if not user.is_admin:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "Not found")
    return user


AdminItem = Annotated[User, Depends(current_admin_or_404)]


async def current_principals(user: CurrentUser, session: Session) -> Principals:
    return await principals_of(session, user)


Who = Annotated[Principals, Depends(current_principals)]


class PageParams:
    def __init__(
        self,
        skip: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
        limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    ) -> None:
        self.skip = skip
        self.limit = limit


Paging = Annotated[PageParams, Depends()]
