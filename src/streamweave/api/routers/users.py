"""The current user, admin user management and personal API tokens."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Response, status
from sqlalchemy import select

from streamweave.api.deps import Admin, AdminItem, CurrentUser, Manager, Paging, Session
from streamweave.api.routers.listing import oldest_first
from streamweave.api.schemas.common import Page
from streamweave.api.schemas.users import (
    GroupMemberRead,
    MembershipSummary,
    MeRead,
    ProjectMemberRead,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserAdminUpdate,
    UserRead,
    UserSelfUpdate,
)
from streamweave.auth.sessions import new_api_token
from streamweave.db.models import ApiToken, Group, GroupMember, ProjectMember, User
from streamweave.errors import NotFound
from streamweave.services import audit, people, resources
from streamweave.services.pagination import paginate

router = APIRouter()


@router.get("/users/me", response_model=UserRead, tags=["users"])
async def read_me(user: CurrentUser) -> User:
    return user


@router.patch("/users/me", response_model=UserRead, tags=["users"])
async def update_me(
    data: UserSelfUpdate, user: CurrentUser, session: Session, manager: Manager
) -> User:
    # Only e-mail and password: role and flags are never taken from the user themself.
    values = data.model_dump(exclude_none=True)
    return await people.update_user(session, manager, user, user, values)


async def _user(session: Session, user_id: uuid.UUID) -> User:
    return await resources.get_or_404(session, User, user_id)


@router.get("/users/{user_id}", response_model=UserRead, tags=["users"])
async def read_user(user_id: uuid.UUID, session: Session, admin: AdminItem) -> User:
    return await _user(session, user_id)


@router.patch("/users/{user_id}", response_model=UserRead, tags=["users"])
async def update_user(
    user_id: uuid.UUID, data: UserAdminUpdate, session: Session, admin: AdminItem, manager: Manager
) -> User:
    user = await _user(session, user_id)
    return await people.update_user(
        session, manager, admin, user, data.model_dump(exclude_none=True)
    )


@router.delete("/users/{user_id}", status_code=status.HTTP_204_NO_CONTENT, tags=["users"])
async def delete_user(user_id: uuid.UUID, session: Session, admin: AdminItem) -> Response:
    await people.delete_user(session, admin, await _user(session, user_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/api/me", response_model=MeRead, tags=["users"])
async def api_me(user: CurrentUser, session: Session) -> dict[str, Any]:
    groups, projects = await people.memberships(session, user.id)
    return {
        **UserRead.model_validate(user, from_attributes=True).model_dump(),
        "groups": [MembershipSummary.model_validate(g) for g in groups],
        "projects": [MembershipSummary.model_validate(p) for p in projects],
    }


@router.get("/api/auth/check-admin", tags=["auth"])
async def check_admin(admin: Admin) -> dict[str, str]:
    """Gate for a reverse proxy (e.g. in front of the Prefect UI): 200, 401 or 403."""
    return {"email": admin.email}


# --- admin users ---------------------------------------------------------------------

admin_router = APIRouter(prefix="/api/admin/users", tags=["admin users"])


@admin_router.get("", response_model=Page[UserRead])
async def list_users(
    session: Session, admin: Admin, paging: Paging, include_deleted: bool = False
) -> Any:
    return await paginate(
        session, resources.listing(User, include_deleted), paging.skip, paging.limit
    )


@admin_router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def admin_delete_user(user_id: uuid.UUID, session: Session, admin: AdminItem) -> Response:
    await people.delete_user(session, admin, await _user(session, user_id))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@admin_router.post("/{user_id}/restore", response_model=UserRead)
async def admin_restore_user(user_id: uuid.UUID, session: Session, admin: AdminItem) -> User:
    return await resources.restore(session, admin, await _user(session, user_id))


@admin_router.get("/{user_id}/groups", response_model=Page[GroupMemberRead])
async def user_groups(
    user_id: uuid.UUID, session: Session, admin: AdminItem, paging: Paging
) -> Any:
    user = await _user(session, user_id)
    stmt = (
        select(GroupMember)
        .join(Group, Group.id == GroupMember.group_id)
        .where(GroupMember.user_id == user.id, Group.deleted_at.is_(None))
        .order_by(GroupMember.created_at, GroupMember.group_id)
    )
    page = await paginate(session, stmt, paging.skip, paging.limit)
    page.items = [
        GroupMemberRead(group_id=m.group_id, user_id=m.user_id, email=user.email)
        for m in page.items
    ]
    return page


@admin_router.get("/{user_id}/projects", response_model=Page[ProjectMemberRead])
async def user_projects(
    user_id: uuid.UUID, session: Session, admin: AdminItem, paging: Paging
) -> Any:
    user = await _user(session, user_id)
    page = await oldest_first(
        session,
        paging,
        ProjectMember,
        ProjectMember.member_type == "user",
        ProjectMember.member_id == user.id,
    )
    page.items = [await people.describe_project_member(session, m) for m in page.items]
    return page


# --- personal API tokens -------------------------------------------------------------

tokens_router = APIRouter(prefix="/api/tokens", tags=["api tokens"])


@tokens_router.get("", response_model=Page[TokenRead])
async def list_tokens(user: CurrentUser, session: Session, paging: Paging) -> Any:
    return await oldest_first(session, paging, ApiToken, ApiToken.user_id == user.id)


@tokens_router.post("", response_model=TokenCreated, status_code=status.HTTP_201_CREATED)
async def create_token(data: TokenCreate, user: CurrentUser, session: Session) -> dict[str, Any]:
    plaintext, digest, prefix = new_api_token()
    expires = (
        datetime.now(UTC) + timedelta(days=data.expires_in_days) if data.expires_in_days else None
    )
    token = ApiToken(
        user_id=user.id, name=data.name, prefix=prefix, token_hash=digest, expires_at=expires
    )
    session.add(token)
    await session.flush()
    audit.record(session, user, "api_tokens", token.id, "create", {"after": audit.snapshot(token)})
    await resources.commit(session)
    return {**TokenRead.model_validate(token).model_dump(), "token": plaintext}


@tokens_router.delete("/{token_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_token(token_id: uuid.UUID, user: CurrentUser, session: Session) -> Response:
    token = await session.get(ApiToken, token_id)
    if token is None or token.user_id != user.id or token.revoked_at is not None:
        raise NotFound(f"API token {token_id} not found")
    token.revoked_at = datetime.now(UTC)
    audit.record(session, user, "api_tokens", token.id, "revoke", None)
    await resources.commit(session)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
