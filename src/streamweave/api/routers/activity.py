"""Audit log (admin), notifications (own), instrument requests (own; admins review)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from fastapi import APIRouter, Response, status
from sqlalchemy import func, select, update

from streamweave.api.deps import Admin, CurrentUser, Paging, Session
from streamweave.api.schemas.common import DayOrMoment, Page
from streamweave.api.schemas.files import (
    AuditLogRead,
    InstrumentRequestCreate,
    InstrumentRequestRead,
    InstrumentRequestReview,
    NotificationRead,
    UnreadCount,
)
from streamweave.db.models import AuditLog, InstrumentRequest, Notification
from streamweave.errors import Forbidden, NotFound
from streamweave.services import resources
from streamweave.services.pagination import paginate

router = APIRouter()


def _day_start(value: date | datetime) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.combine(value, time.min, tzinfo=UTC)


@router.get("/api/admin/audit-logs", response_model=Page[AuditLogRead], tags=["audit"])
async def list_audit_logs(
    session: Session,
    admin: Admin,
    paging: Paging,
    entity_type: str | None = None,
    entity_id: uuid.UUID | None = None,
    action: str | None = None,
    actor_id: uuid.UUID | None = None,
    since: DayOrMoment | None = None,
    until: DayOrMoment | None = None,
) -> Any:
    stmt = select(AuditLog)
    if entity_type:
        stmt = stmt.where(AuditLog.entity_type == entity_type)
    if entity_id:
        stmt = stmt.where(AuditLog.entity_id == entity_id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if actor_id:
        stmt = stmt.where(AuditLog.actor_id == actor_id)
    if since is not None:
        stmt = stmt.where(AuditLog.created_at >= _day_start(since))
    if until is not None:
        if isinstance(until, datetime):
            stmt = stmt.where(AuditLog.created_at <= _day_start(until))
        elif until < date.max:
            # A bare date means "through the end of that day" (v0 excluded the day itself).
            stmt = stmt.where(AuditLog.created_at < _day_start(until + timedelta(days=1)))
    stmt = stmt.order_by(AuditLog.created_at.desc(), AuditLog.id.desc())
    return await paginate(session, stmt, paging.skip, paging.limit)


# --- notifications -------------------------------------------------------------------


def _mine(user_id: uuid.UUID) -> Any:
    return (Notification.user_id == user_id) & Notification.dismissed.is_(False)


@router.get("/api/notifications", response_model=Page[NotificationRead], tags=["notifications"])
async def list_notifications(
    session: Session, user: CurrentUser, paging: Paging, unread_only: bool = False
) -> Any:
    stmt = select(Notification).where(_mine(user.id))
    if unread_only:
        stmt = stmt.where(Notification.read.is_(False))
    stmt = stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
    return await paginate(session, stmt, paging.skip, paging.limit)


@router.get("/api/notifications/unread-count", response_model=UnreadCount, tags=["notifications"])
async def unread_count(session: Session, user: CurrentUser) -> UnreadCount:
    count = await session.scalar(
        select(func.count())
        .select_from(Notification)
        .where(_mine(user.id), Notification.read.is_(False))
    )
    return UnreadCount(count=int(count or 0))


async def _mark_read(
    session: Session, user: CurrentUser, notification_id: uuid.UUID, *, dismiss: bool = False
) -> Notification:
    """Mark the caller's notification read (and dismissed, when asked): 404 if not theirs."""
    notification = await session.get(Notification, notification_id)
    if notification is None or notification.user_id != user.id:
        raise NotFound(f"notification {notification_id} not found")
    notification.read = True
    if dismiss:
        notification.dismissed = True
    await session.commit()
    return notification


@router.post(
    "/api/notifications/read-all", status_code=status.HTTP_204_NO_CONTENT, tags=["notifications"]
)
async def read_all(session: Session, user: CurrentUser) -> Response:
    await session.execute(
        update(Notification).where(_mine(user.id), Notification.read.is_(False)).values(read=True)
    )
    await session.commit()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/api/notifications/{notification_id}/read",
    response_model=NotificationRead,
    tags=["notifications"],
)
async def mark_read(notification_id: uuid.UUID, session: Session, user: CurrentUser) -> Any:
    return await _mark_read(session, user, notification_id)


@router.post(
    "/api/notifications/{notification_id}/dismiss",
    response_model=NotificationRead,
    tags=["notifications"],
)
async def dismiss(notification_id: uuid.UUID, session: Session, user: CurrentUser) -> Any:
    return await _mark_read(session, user, notification_id, dismiss=True)


# --- instrument requests -------------------------------------------------------------


@router.post(
    "/api/instrument-requests",
    response_model=InstrumentRequestRead,
    status_code=status.HTTP_201_CREATED,
    tags=["instrument requests"],
)
async def create_request(data: InstrumentRequestCreate, session: Session, user: CurrentUser) -> Any:
    return await resources.create(
        session, user, InstrumentRequest(requester_id=user.id, **data.model_dump())
    )


@router.get(
    "/api/instrument-requests",
    response_model=Page[InstrumentRequestRead],
    tags=["instrument requests"],
)
async def list_requests(
    session: Session, user: CurrentUser, paging: Paging, status_filter: str | None = None
) -> Any:
    stmt = select(InstrumentRequest)
    if not user.is_admin:
        stmt = stmt.where(InstrumentRequest.requester_id == user.id)
    if status_filter:
        stmt = stmt.where(InstrumentRequest.status == status_filter)
    stmt = stmt.order_by(InstrumentRequest.created_at.desc(), InstrumentRequest.id.desc())
    return await paginate(session, stmt, paging.skip, paging.limit)


async def _request(session: Session, user: CurrentUser, request_id: uuid.UUID) -> InstrumentRequest:
    request = await session.get(InstrumentRequest, request_id)
    if request is None or (not user.is_admin and request.requester_id != user.id):
        raise NotFound(f"instrument request {request_id} not found")
    return request


@router.get(
    "/api/instrument-requests/{request_id}",
    response_model=InstrumentRequestRead,
    tags=["instrument requests"],
)
async def get_request(request_id: uuid.UUID, session: Session, user: CurrentUser) -> Any:
    return await _request(session, user, request_id)


@router.patch(
    "/api/instrument-requests/{request_id}",
    response_model=InstrumentRequestRead,
    tags=["instrument requests"],
)
async def review_request(
    request_id: uuid.UUID, data: InstrumentRequestReview, session: Session, user: CurrentUser
) -> Any:
    request = await _request(session, user, request_id)
    if not user.is_admin:
        raise Forbidden("only administrators review instrument requests")
    # Added before the update so that both land in the update's transaction.
    session.add(
        Notification(
            user_id=request.requester_id,
            type="instrument_request",
            title=f"Your instrument request {request.name!r} is {data.status}",
            message=data.admin_notes or "",
            link="/instrument-requests",
        )
    )
    return await resources.update(session, user, request, data.model_dump(exclude_unset=True))
