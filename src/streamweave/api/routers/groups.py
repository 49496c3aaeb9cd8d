"""Groups and projects, and their members."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response, status
from sqlalchemy import select

from streamweave.api.crud import add_soft_delete_routes
from streamweave.api.deps import Admin, AdminItem, Paging, Session
from streamweave.api.routers.listing import oldest_first
from streamweave.api.schemas.common import Page
from streamweave.api.schemas.users import (
    GroupCreate,
    GroupMemberCreate,
    GroupMemberRead,
    GroupRead,
    GroupUpdate,
    ProjectMemberCreate,
    ProjectMemberRead,
)
from streamweave.db.base import Base
from streamweave.db.models import Group, GroupMember, Project, ProjectMember, User
from streamweave.services import people, resources
from streamweave.services.pagination import paginate


def _named_resource_router(prefix: str, tag: str, model: type[Group] | type[Project]) -> APIRouter:
    """Groups and projects have the same shape: a name, a description, members."""
    router = APIRouter(prefix=prefix, tags=[tag])
    add_soft_delete_routes(router, model, GroupRead)

    @router.post("", response_model=GroupRead, status_code=status.HTTP_201_CREATED)
    async def create(data: GroupCreate, session: Session, admin: Admin) -> Any:
        await resources.ensure_unique_name(session, model, data.name)
        return await resources.create(session, admin, model(**data.model_dump()))

    @router.patch("/{item_id}", response_model=GroupRead)
    async def update(
        item_id: uuid.UUID, data: GroupUpdate, session: Session, admin: AdminItem
    ) -> Any:
        obj: Base = await resources.get_or_404(session, model, item_id)
        values = data.model_dump(exclude_none=True)
        if "name" in values:
            await resources.ensure_unique_name(session, model, values["name"], exclude=item_id)
        return await resources.update(session, admin, obj, values)

    return router


groups_router = _named_resource_router("/api/groups", "groups", Group)
projects_router = _named_resource_router("/api/projects", "projects", Project)


@groups_router.get("/{group_id}/members", response_model=Page[GroupMemberRead])
async def list_group_members(
    group_id: uuid.UUID, session: Session, admin: AdminItem, paging: Paging
) -> Any:
    await resources.get_or_404(session, Group, group_id)
    stmt = (
        select(GroupMember.group_id, GroupMember.user_id, User.email)
        .join(User, User.id == GroupMember.user_id)
        .where(GroupMember.group_id == group_id)
        .order_by(GroupMember.created_at, GroupMember.user_id)
    )
    page = await paginate(session, stmt, paging.skip, paging.limit, scalars=False)
    page.items = [GroupMemberRead(group_id=g, user_id=u, email=e) for g, u, e in page.items]
    return page


@groups_router.post(
    "/{group_id}/members", response_model=GroupMemberRead, status_code=status.HTTP_201_CREATED
)
async def add_group_member(
    group_id: uuid.UUID, data: GroupMemberCreate, session: Session, admin: AdminItem
) -> Any:
    group = await resources.get_or_404(session, Group, group_id, live=True)
    member, user = await people.add_group_member(session, admin, group, data.user_id)
    return GroupMemberRead(group_id=member.group_id, user_id=member.user_id, email=user.email)


@groups_router.delete("/{group_id}/members/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_group_member(
    group_id: uuid.UUID, user_id: uuid.UUID, session: Session, admin: AdminItem
) -> Response:
    group = await resources.get_or_404(session, Group, group_id)
    await people.remove_group_member(session, admin, group, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@projects_router.get("/{project_id}/members", response_model=Page[ProjectMemberRead])
async def list_project_members(
    project_id: uuid.UUID, session: Session, admin: AdminItem, paging: Paging
) -> Any:
    await resources.get_or_404(session, Project, project_id)
    in_project = ProjectMember.project_id == project_id
    page = await oldest_first(session, paging, ProjectMember, in_project)
    page.items = [await people.describe_project_member(session, m) for m in page.items]
    return page


@projects_router.post(
    "/{project_id}/members", response_model=ProjectMemberRead, status_code=status.HTTP_201_CREATED
)
async def add_project_member(
    project_id: uuid.UUID, data: ProjectMemberCreate, session: Session, admin: AdminItem
) -> Any:
    project = await resources.get_or_404(session, Project, project_id, live=True)
    member = await people.add_project_member(
        session, admin, project, data.member_type, data.member_id
    )
    return await people.describe_project_member(session, member)


@projects_router.delete("/{project_id}/members/{member_id}", status_code=status.HTTP_204_NO_CONTENT)
async def remove_project_member(
    project_id: uuid.UUID, member_id: uuid.UUID, session: Session, admin: AdminItem
) -> Response:
    project = await resources.get_or_404(session, Project, project_id)
    await people.remove_project_member(session, admin, project, member_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
