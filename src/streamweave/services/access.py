"""Who may see what. One definition, used by every list and lookup.

Admins see everything. A regular user sees an instrument granted to them, to one of
their live groups or to one of their live projects, and a file they own or that is
granted the same way. Deleted groups and projects grant nothing.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, and_, false, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.models import (
    FileAccessGrant,
    FileRecord,
    Group,
    GroupMember,
    Instrument,
    InstrumentAccess,
    Project,
    ProjectMember,
    User,
)


@dataclass(frozen=True)
class Principals:
    """A user and every group and project they belong to (live ones only)."""

    user_id: uuid.UUID
    is_admin: bool
    group_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    project_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)

    def pairs(self) -> list[tuple[str, uuid.UUID]]:
        return (
            [("user", self.user_id)]
            + [("group", g) for g in self.group_ids]
            + [("project", p) for p in self.project_ids]
        )


async def principals_of(session: AsyncSession, user: User) -> Principals:
    if user.is_admin:
        return Principals(user_id=user.id, is_admin=True)
    group_ids = frozenset(
        (
            await session.scalars(
                select(GroupMember.group_id)
                .join(Group, Group.id == GroupMember.group_id)
                .where(GroupMember.user_id == user.id, Group.deleted_at.is_(None))
            )
        ).all()
    )
    member_of_project = or_(
        and_(ProjectMember.member_type == "user", ProjectMember.member_id == user.id),
        and_(ProjectMember.member_type == "group", ProjectMember.member_id.in_(group_ids))
        if group_ids
        else false(),
    )
    project_ids = frozenset(
        (
            await session.scalars(
                select(ProjectMember.project_id)
                .join(Project, Project.id == ProjectMember.project_id)
                .where(member_of_project, Project.deleted_at.is_(None))
            )
        ).all()
    )
    return Principals(user.id, False, group_ids, project_ids)


def _grantee_clause(type_col: Any, id_col: Any, who: Principals) -> ColumnElement[bool]:
    clauses = [and_(type_col == "user", id_col == who.user_id)]
    if who.group_ids:
        clauses.append(and_(type_col == "group", id_col.in_(who.group_ids)))
    if who.project_ids:
        clauses.append(and_(type_col == "project", id_col.in_(who.project_ids)))
    return or_(*clauses)


def instrument_visible(who: Principals) -> ColumnElement[bool]:
    if who.is_admin:
        return true()
    granted = select(InstrumentAccess.instrument_id).where(
        _grantee_clause(InstrumentAccess.grantee_type, InstrumentAccess.grantee_id, who)
    )
    return Instrument.id.in_(granted)


def file_visible(who: Principals) -> ColumnElement[bool]:
    if who.is_admin:
        return true()
    # Correlated EXISTS: one probe of the (file_id, grantee) unique index per candidate
    # file, instead of materialising every grant the user has.
    granted = (
        select(FileAccessGrant.id)
        .where(
            FileAccessGrant.file_id == FileRecord.id,
            _grantee_clause(FileAccessGrant.grantee_type, FileAccessGrant.grantee_id, who),
        )
        .exists()
    )
    return or_(FileRecord.owner_id == who.user_id, granted)
