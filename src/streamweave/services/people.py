"""Users, groups, projects and memberships."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi_users import exceptions as fu_exceptions
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.auth.manager import UserManager
from streamweave.auth.schemas import UserCreate
from streamweave.db.models import Group, GroupMember, Project, ProjectMember, User
from streamweave.errors import Conflict, InvalidInput, NotFound
from streamweave.services import audit, resources

# Changing any of these ends every session the user has.
_SESSION_ENDING = {"hashed_password", "role", "is_active", "email"}


def _sync_admin_flags(values: dict[str, Any]) -> dict[str, Any]:
    """One notion of admin: role and is_superuser always agree."""
    if "role" in values and values["role"] is not None:
        values["is_superuser"] = values["role"] == "admin"
    elif values.get("is_superuser") is not None:
        values["role"] = "admin" if values["is_superuser"] else "user"
    return values


async def create_user(
    session: AsyncSession,
    manager: UserManager,
    actor: User | None,
    data: UserCreate,
    *,
    trusted: bool,
) -> User:
    """Register a user. ``trusted`` (an admin or the CLI) may set the role and flags."""
    try:
        user = await manager.create(data, safe=not trusted)
    except fu_exceptions.UserAlreadyExists:
        raise Conflict(f"a user with e-mail {data.email} already exists") from None
    except fu_exceptions.InvalidPasswordException as exc:
        raise InvalidInput(f"password: {exc.reason}") from None
    _sync_admin_flags_on(user, role=data.role if trusted else "user")
    await session.flush()
    audit.record(
        session, actor or user, "users", user.id, "create", {"after": audit.snapshot(user)}
    )
    await resources.commit(session)
    return user


def _sync_admin_flags_on(user: User, role: str) -> None:
    user.role = role
    user.is_superuser = role == "admin"


async def update_user(
    session: AsyncSession, manager: UserManager, actor: User, user: User, data: dict[str, Any]
) -> User:
    values = _sync_admin_flags({k: v for k, v in data.items() if v is not None})
    if values.get("role") != "admin" and user.id == actor.id and "role" in values:
        raise InvalidInput("role: you cannot remove your own administrator role")
    if values.get("is_active") is False and user.id == actor.id:
        raise InvalidInput("is_active: you cannot deactivate your own account")
    before = audit.snapshot(user)
    try:
        await manager._update(user, values)
    except fu_exceptions.UserAlreadyExists:
        raise Conflict(f"a user with e-mail {values.get('email')} already exists") from None
    except fu_exceptions.InvalidPasswordException as exc:
        raise InvalidInput(f"password: {exc.reason}") from None
    after = audit.snapshot(user)
    changes = audit.diff(before, after)
    if _SESSION_ENDING & set(changes["after"]):
        user.token_generation += 1
    if changes["after"]:
        action = "role_change" if "role" in changes["after"] else "update"
        audit.record(session, actor, "users", user.id, action, changes)
    await resources.commit(session)
    return user


async def delete_user(session: AsyncSession, actor: User, user: User) -> None:
    if user.id == actor.id:
        raise InvalidInput("you cannot delete your own account")
    user.token_generation += 1
    await resources.soft_delete(session, actor, user)


async def memberships(
    session: AsyncSession, user_id: uuid.UUID
) -> tuple[list[Group], list[Project]]:
    groups = list(
        (
            await session.scalars(
                select(Group)
                .join(GroupMember, GroupMember.group_id == Group.id)
                .where(GroupMember.user_id == user_id, Group.deleted_at.is_(None))
                .order_by(Group.name, Group.id)
            )
        ).all()
    )
    group_ids = [g.id for g in groups]
    projects = list(
        (
            await session.scalars(
                select(Project)
                .join(ProjectMember, ProjectMember.project_id == Project.id)
                .where(
                    Project.deleted_at.is_(None),
                    ((ProjectMember.member_type == "user") & (ProjectMember.member_id == user_id))
                    | (
                        (ProjectMember.member_type == "group")
                        & ProjectMember.member_id.in_(group_ids)
                    ),
                )
                .order_by(Project.name, Project.id)
                .distinct()
            )
        ).all()
    )
    return groups, projects


async def add_group_member(
    session: AsyncSession, actor: User, group: Group, user_id: uuid.UUID
) -> tuple[GroupMember, User]:
    user = await resources.require_live(session, User, user_id, "user_id")
    if await session.get(GroupMember, (group.id, user_id)) is not None:
        raise Conflict(f"{user.email} is already a member of group {group.name!r}")
    member = GroupMember(group_id=group.id, user_id=user_id)
    session.add(member)
    audit.record(
        session, actor, "group_members", group.id, "add_member", {"after": {"user_id": user_id}}
    )
    await resources.commit(session)
    return member, user


async def remove_group_member(
    session: AsyncSession, actor: User, group: Group, user_id: uuid.UUID
) -> None:
    member = await session.get(GroupMember, (group.id, user_id))
    if member is None:
        raise NotFound(f"user {user_id} is not a member of group {group.name!r}")
    await session.delete(member)
    audit.record(
        session, actor, "group_members", group.id, "remove_member", {"before": {"user_id": user_id}}
    )
    await resources.commit(session)


async def describe_project_member(session: AsyncSession, member: ProjectMember) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": member.id,
        "project_id": member.project_id,
        "member_type": member.member_type,
        "member_id": member.member_id,
    }
    if member.member_type == "user":
        user = await session.get(User, member.member_id)
        data["email"] = user.email if user else None
    else:
        group = await session.get(Group, member.member_id)
        data["name"] = group.name if group else None
    return data


async def add_project_member(
    session: AsyncSession, actor: User, project: Project, member_type: str, member_id: uuid.UUID
) -> ProjectMember:
    model: type[User] | type[Group] = User if member_type == "user" else Group
    await resources.require_live(session, model, member_id, "member_id")
    existing = await session.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project.id,
            ProjectMember.member_type == member_type,
            ProjectMember.member_id == member_id,
        )
    )
    if existing is not None:
        raise Conflict(f"this {member_type} is already a member of project {project.name!r}")
    member = ProjectMember(project_id=project.id, member_type=member_type, member_id=member_id)
    session.add(member)
    await session.flush()
    audit.record(
        session,
        actor,
        "project_members",
        project.id,
        "add_member",
        {"after": audit.snapshot(member)},
    )
    await resources.commit(session)
    return member


async def remove_project_member(
    session: AsyncSession, actor: User, project: Project, member_id: uuid.UUID
) -> None:
    """``member_id`` is the membership id or the member's user/group id (v0 clients send either)."""
    member = await session.scalar(
        select(ProjectMember).where(
            ProjectMember.project_id == project.id,
            (ProjectMember.id == member_id) | (ProjectMember.member_id == member_id),
        )
    )
    if member is None:
        raise NotFound(f"{member_id} is not a member of project {project.name!r}")
    before = audit.snapshot(member)
    await session.delete(member)
    audit.record(session, actor, "project_members", project.id, "remove_member", {"before": before})
    await resources.commit(session)
