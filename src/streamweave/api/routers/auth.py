"""Login, logout, registration, password reset and e-mail verification (v0 paths)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, HTTPException, Request, Response, status
from fastapi.security import OAuth2PasswordRequestForm
from fastapi_users import exceptions as fu_exceptions
from pydantic import BaseModel, EmailStr

from streamweave.api.deps import (
    COOKIE_NAME,
    Context,
    Manager,
    Session,
    _bearer,
    _cookie,
    optional_user,
    request_token,
)
from streamweave.api.schemas.users import UserCreate, UserRead
from streamweave.db.models import User
from streamweave.errors import Forbidden
from streamweave.services import audit, people, resources

router = APIRouter(tags=["auth"])


class BearerResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"


def _client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _login(
    request: Request,
    form: OAuth2PasswordRequestForm,
    manager: Manager,
    session: Session,
    context: Context,
) -> User:
    throttle = context.throttle
    address = _client_address(request)
    wait = throttle.retry_after(*throttle.keys(form.username, address))
    if wait:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"Too many failed logins; try again in {wait} seconds",
            headers={"Retry-After": str(wait)},
        )
    user = await manager.authenticate(form)
    if user is None:
        throttle.failed(form.username, address)
        audit.record(
            session,
            None,
            "auth",
            None,
            "login_failed",
            {"email": form.username, "address": address},
        )
        await session.commit()
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "LOGIN_BAD_CREDENTIALS")
    throttle.succeeded(form.username)
    await session.commit()
    return user


Form = Annotated[OAuth2PasswordRequestForm, Depends()]


@router.post("/auth/jwt/login", response_model=BearerResponse)
async def jwt_login(
    request: Request, form: Form, manager: Manager, session: Session, context: Context
) -> BearerResponse:
    user = await _login(request, form, manager, session, context)
    return BearerResponse(access_token=context.sessions.issue(user))


@router.post("/auth/cookie/login", status_code=status.HTTP_204_NO_CONTENT)
async def cookie_login(
    request: Request, form: Form, manager: Manager, session: Session, context: Context
) -> Response:
    user = await _login(request, form, manager, session, context)
    response = Response(status_code=status.HTTP_204_NO_CONTENT)
    response.set_cookie(
        COOKIE_NAME,
        context.sessions.issue(user),
        max_age=context.settings.jwt_lifetime_seconds,
        httponly=True,
        secure=context.settings.secure_cookies,
        samesite="lax",
        path="/",
    )
    return response


OptionalUser = Annotated[User | None, Depends(optional_user)]


async def _logout(
    session: Session, context: Context, token: str | None, user: User | None
) -> Response:
    """Revoke the session ``token`` stands for: 401 when the caller is not signed in or sent
    no such token."""
    if user is None or token is None:
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Not authenticated")
    await context.sessions.revoke(session, token)
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/auth/jwt/logout", status_code=status.HTTP_204_NO_CONTENT)
async def jwt_logout(
    session: Session,
    context: Context,
    bearer: Annotated[str | None, Depends(_bearer)],
    user: OptionalUser,
) -> Response:
    return await _logout(session, context, bearer, user)


@router.post("/auth/cookie/logout", status_code=status.HTTP_204_NO_CONTENT)
async def cookie_logout(
    session: Session,
    context: Context,
    cookie: Annotated[str | None, Depends(_cookie)],
    user: OptionalUser,
) -> Response:
    response = await _logout(session, context, request_token(None, cookie), user)
    response.delete_cookie(COOKIE_NAME, path="/")
    return response


@router.post("/auth/register", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def register(
    data: UserCreate,
    session: Session,
    manager: Manager,
    context: Context,
    caller: OptionalUser,
) -> User:
    trusted = caller is not None and caller.is_admin
    if not trusted and not context.settings.registration_enabled:
        raise Forbidden(
            "Self-registration is disabled; ask an administrator to create your account"
        )
    return await people.create_user(session, manager, caller, data, trusted=trusted)


async def _mail_live_account(
    manager: Manager, email: str, send: Callable[[User], Awaitable[None]]
) -> None:
    """Start ``send``'s e-mailed flow for the live account at ``email``, if there is one.

    Nothing tells the caller what happened (no such account, inactive, already verified),
    so that no one learns which addresses have accounts."""
    try:
        user = await manager.get_by_email(email)
        if user.deleted_at is None:
            await send(user)
    except (
        fu_exceptions.UserNotExists,
        fu_exceptions.UserInactive,
        fu_exceptions.UserAlreadyVerified,
    ):
        pass


@router.post("/auth/forgot-password", status_code=status.HTTP_202_ACCEPTED)
async def forgot_password(
    request: Request, manager: Manager, email: Annotated[EmailStr, Body(embed=True)]
) -> None:
    await _mail_live_account(manager, email, partial(manager.forgot_password, request=request))


@router.post("/auth/reset-password")
async def reset_password(
    request: Request,
    manager: Manager,
    session: Session,
    token: Annotated[str, Body()],
    password: Annotated[str, Body()],
) -> None:
    try:
        user = await manager.reset_password(token, password, request)
    except (
        fu_exceptions.InvalidResetPasswordToken,
        fu_exceptions.UserNotExists,
        fu_exceptions.UserInactive,
    ):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "RESET_PASSWORD_BAD_TOKEN") from None
    except fu_exceptions.InvalidPasswordException as exc:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            {"code": "RESET_PASSWORD_INVALID_PASSWORD", "reason": exc.reason},
        ) from None
    user.token_generation += 1
    audit.record(session, user, "users", user.id, "password_reset", None)
    await resources.commit(session)


@router.post("/auth/request-verify-token", status_code=status.HTTP_202_ACCEPTED)
async def request_verify_token(
    request: Request, manager: Manager, email: Annotated[EmailStr, Body(embed=True)]
) -> None:
    await _mail_live_account(manager, email, partial(manager.request_verify, request=request))


@router.post("/auth/verify", response_model=UserRead)
async def verify(
    request: Request, manager: Manager, session: Session, token: Annotated[str, Body(embed=True)]
) -> Any:
    try:
        user = await manager.verify(token, request)
    except (fu_exceptions.InvalidVerifyToken, fu_exceptions.UserNotExists):
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "VERIFY_USER_BAD_TOKEN") from None
    except fu_exceptions.UserAlreadyVerified:
        raise HTTPException(status.HTTP_400_BAD_REQUEST, "VERIFY_USER_ALREADY_VERIFIED") from None
    audit.record(session, user, "users", user.id, "verify", None)
    await resources.commit(session)
    return user
