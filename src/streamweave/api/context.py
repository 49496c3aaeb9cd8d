"""What a running API holds: settings, database, secret box, session issuer, throttle."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from streamweave.auth.sessions import SessionTokens
from streamweave.auth.throttle import LoginThrottle
from streamweave.config import Settings
from streamweave.crypto import SecretBox
from streamweave.db.engine import create_engine, create_sessionmaker


@dataclass
class AppContext:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    secrets: SecretBox
    sessions: SessionTokens
    throttle: LoginThrottle = field(default_factory=LoginThrottle)

    @classmethod
    def from_settings(cls, settings: Settings) -> AppContext:
        engine = create_engine(settings.sqlalchemy_url)
        return cls(
            settings=settings,
            engine=engine,
            sessionmaker=create_sessionmaker(engine),
            secrets=SecretBox(settings.fernet_keys),
            sessions=SessionTokens(settings.jwt_secret, settings.jwt_lifetime_seconds),
            throttle=LoginThrottle(settings.login_max_failures, settings.login_lockout_seconds),
        )
