"""First start: an administrator to log in with."""

from __future__ import annotations

import secrets

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.auth.manager import UserManager, UserStore
from streamweave.auth.schemas import UserCreate
from streamweave.config import Settings, write_private
from streamweave.db.models import User
from streamweave.services import people

INITIAL_ADMIN_EMAIL = "admin@example.org"


async def ensure_initial_admin(session: AsyncSession, settings: Settings) -> tuple[str, str] | None:
    """On an empty embedded installation, create an admin with a generated password.

    Returns (e-mail, password) when one was created; the password is also written to
    ``initial-admin.txt`` in the data directory (readable by its owner only). Production
    installations create their first admin with ``streamweave users create --admin``.
    """
    if settings.production or await session.scalar(select(func.count()).select_from(User)):
        return None
    password = secrets.token_urlsafe(12)
    data = UserCreate(email=INITIAL_ADMIN_EMAIL, password=password, role="admin")
    await people.create_user(
        session, UserManager(UserStore(session), settings), None, data, trusted=True
    )
    write_private(settings.data_dir / "initial-admin.txt", f"{INITIAL_ADMIN_EMAIL}\n{password}\n")
    return INITIAL_ADMIN_EMAIL, password
