"""The ARK resolver: ``/ark:/NAAN/name`` and ``/ark:NAAN/name``, and their ``?info``.

An ARK resolves for whoever may see its file (services.access); to anyone else,
anonymous callers included, it answers 404 exactly as an ARK that names nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request, status

from streamweave.api.deps import Context, Session, optional_user
from streamweave.api.schemas.common import ORMModel
from streamweave.api.schemas.files import FileRead
from streamweave.db.models import FileRecord, FileVersion, User
from streamweave.identifiers import service
from streamweave.identifiers.ark import ArkError
from streamweave.services.access import Principals, principals_of

router = APIRouter(tags=["identifiers"])

# The ARK "info" inflection, and the "??" of older clients (the query string is then "?").
_INFO_QUERIES = {b"info", b"?", b"%3F", b"%3f"}


class VersionRead(ORMModel):
    version: int
    persistent_id: str
    size_bytes: int
    source_mtime: datetime | None
    # Algorithm ("xxh3-128", "sha256", "md5") to hex digest, for those computed.
    checksums: dict[str, str]
    discovered_at: datetime


class ArkResolution(FileRead):
    """The file, as GET /api/files/{id} shows it, with its versions."""

    ark: str
    # Set when the ARK names one content version rather than the file.
    requested_version: int | None
    versions: list[VersionRead]


class ArkInfo(ORMModel):
    """The ARK kernel metadata (who, what, when, where) of the object."""

    ark: str
    who: str | None
    what: str
    when: datetime
    where: str


async def optional_principals(
    session: Session, user: Annotated[User | None, Depends(optional_user)]
) -> Principals | None:
    return None if user is None else await principals_of(session, user)


MaybeWho = Annotated[Principals | None, Depends(optional_principals)]


def _checksums(item: FileRecord | FileVersion) -> dict[str, str]:
    digests = {"xxh3-128": item.xxhash, "sha256": item.sha256, "md5": item.md5}
    return {algorithm: digest for algorithm, digest in digests.items() if digest}


def _version(item: FileVersion) -> VersionRead:
    return VersionRead(
        version=item.version,
        persistent_id=item.persistent_id,
        size_bytes=item.size_bytes,
        source_mtime=item.source_mtime,
        checksums=_checksums(item),
        discovered_at=item.discovered_at,
    )


def _resolution(found: service.Resolution) -> ArkResolution:
    return ArkResolution(
        **FileRead.model_validate(found.file).model_dump(),
        ark=found.ark.base,
        requested_version=found.requested.version if found.requested else None,
        versions=[_version(item) for item in found.versions],
    )


async def _info(session: Session, context: Context, found: service.Resolution) -> ArkInfo:
    when = found.requested.discovered_at if found.requested else found.file.first_discovered_at
    return ArkInfo(
        ark=found.ark.base,
        who=await service.instrument_name(session, found),
        what=found.file.filename,
        when=when,
        where=f"{context.settings.public_url.rstrip('/')}/{found.ark.base}",
    )


async def _answer(
    naan: str, name: str, request: Request, session: Session, context: Context, who: MaybeWho
) -> ArkResolution | ArkInfo:
    try:
        ark = service.ours(f"ark:/{naan}/{name}", context.settings)
    except ArkError as exc:  # decided from the text alone, so it reveals nothing stored
        raise HTTPException(status.HTTP_400_BAD_REQUEST, str(exc)) from None
    found = await service.resolve(session, who, ark)
    if request.scope["query_string"] in _INFO_QUERIES:
        return await _info(session, context, found)
    return _resolution(found)


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"description": "Not an ARK, or its check character is wrong (the hint names it)"},
    404: {"description": "Not our NAAN, no such object, or not visible to the caller"},
}


@router.get("/ark:/{naan}/{name}", response_model=ArkResolution | ArkInfo, responses=_RESPONSES)
async def resolve_ark(
    naan: str, name: str, request: Request, session: Session, context: Context, who: MaybeWho
) -> ArkResolution | ArkInfo:
    """The file or file version an ARK names; with ``?info`` its kernel metadata."""
    return await _answer(naan, name, request, session, context, who)


@router.get("/ark:{naan}/{name}", response_model=ArkResolution | ArkInfo, responses=_RESPONSES)
async def resolve_ark_without_slash(
    naan: str, name: str, request: Request, session: Session, context: Context, who: MaybeWho
) -> ArkResolution | ArkInfo:
    """The same ARK written ``ark:NAAN/name``, as the current ARK specification does."""
    return await _answer(naan, name, request, session, context, who)
