"""Bearer and cookie sessions (revocable JWTs) and personal API tokens (hashed)."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import jwt
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.models import ApiToken, RevokedToken, User

AUDIENCE = "streamweave:auth"
API_TOKEN_PREFIX = "swt_"


@dataclass
class SessionTokens:
    """JWTs carrying a token id (revoked on logout) and the user's token generation
    (bumped on password change, deactivation and role change to end every session)."""

    secret: str
    lifetime_seconds: int

    def issue(self, user: User) -> str:
        now = datetime.now(UTC)
        claims = {
            "sub": str(user.id),
            "aud": AUDIENCE,
            "jti": uuid.uuid4().hex,
            "gen": user.token_generation,
            "iat": now,
            "exp": now + timedelta(seconds=self.lifetime_seconds),
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")

    def _claims(self, token: str) -> dict[str, object] | None:
        try:
            claims: dict[str, object] = jwt.decode(
                token, self.secret, algorithms=["HS256"], audience=AUDIENCE
            )
        except jwt.PyJWTError:
            return None
        return claims

    async def read(self, session: AsyncSession, token: str) -> User | None:
        claims = self._claims(token)
        if claims is None:
            return None
        if await session.get(RevokedToken, str(claims.get("jti"))) is not None:
            return None
        try:
            user_id = uuid.UUID(str(claims.get("sub")))
        except ValueError:
            return None
        user = await session.get(User, user_id)
        if user is None or user.token_generation != claims.get("gen"):
            return None
        return user

    async def revoke(self, session: AsyncSession, token: str) -> None:
        claims = self._claims(token)
        if claims is None:
            return
        expires = datetime.fromtimestamp(float(str(claims["exp"])), UTC)
        jti = str(claims["jti"])
        if await session.get(RevokedToken, jti) is None:
            session.add(RevokedToken(jti=jti, expires_at=expires))
        # Expired entries are useless: the signature check already refuses those tokens.
        await session.execute(
            delete(RevokedToken).where(RevokedToken.expires_at < datetime.now(UTC))
        )


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_api_token() -> tuple[str, str, str]:
    """A fresh token: (plaintext shown once, stored hash, display prefix)."""
    token = API_TOKEN_PREFIX + secrets.token_urlsafe(32)
    return token, hash_api_token(token), token[: len(API_TOKEN_PREFIX) + 6]


async def read_api_token(session: AsyncSession, token: str) -> User | None:
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == hash_api_token(token)))
    now = datetime.now(UTC)
    if row is None or row.revoked_at is not None or (row.expires_at and row.expires_at <= now):
        return None
    # Recording use costs a write; once a minute is precise enough for "last used".
    if row.last_used_at is None or now - row.last_used_at > timedelta(minutes=1):
        row.last_used_at = now
        await session.commit()
    return await session.get(User, row.user_id)


async def authenticate_token(
    session: AsyncSession, sessions: SessionTokens, token: str
) -> User | None:
    """The live, active user behind a bearer or cookie token, or None."""
    if token.startswith(API_TOKEN_PREFIX):
        user = await read_api_token(session, token)
    else:
        user = await sessions.read(session, token)
    if user is None or user.deleted_at is not None or not user.is_active:
        return None
    return user
