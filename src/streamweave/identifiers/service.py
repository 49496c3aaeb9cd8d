"""ARKs against the database: collision-free bulk minting, and resolution for a caller."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from streamweave.db.bulk import existing
from streamweave.db.models import FileRecord, FileVersion, Instrument
from streamweave.errors import NotFound
from streamweave.identifiers.ark import (
    Ark,
    ArkError,
    ArkNamespace,
    BladeSource,
    MintingExhausted,
    mint,
    parse,
    random_blade,
)
from streamweave.services.access import Principals, file_visible

# ARKs checked per lookup (``existing`` splits further for SQLite's parameter limit).
DEFAULT_CHUNK = 30_000
# A fresh ARK collides with odds (ARKs in use) / 29**8: 1 in 5,000 even at 100 million
# files. Still colliding after this many rounds means a broken source, not bad luck.
MAX_ROUNDS = 8


async def _taken(session: AsyncSession, candidates: Sequence[str]) -> set[str]:
    """Which of ``candidates`` name a file or a version already."""
    return await existing(
        session, [FileRecord.persistent_id, FileVersion.persistent_id], candidates
    )


def _namespace(
    settings: ArkNamespace | None, naan: str | None, shoulder: str | None
) -> tuple[str, str]:
    naan = naan or (settings.ark_naan if settings else None)
    shoulder = shoulder or (settings.ark_shoulder if settings else None)
    if not naan or not shoulder:
        raise ArkError("minting needs a NAAN and a shoulder: pass settings, or naan and shoulder")
    return naan, shoulder


async def mint_unique(
    session: AsyncSession,
    count: int,
    settings: ArkNamespace | None = None,
    *,
    naan: str | None = None,
    shoulder: str | None = None,
    chunk_size: int = DEFAULT_CHUNK,
    source: BladeSource = random_blade,
) -> list[str]:
    """``count`` new ARKs under the NAAN and shoulder of ``settings`` (or the ones given
    by name), none of them already a file's or a version's. One query per
    ``chunk_size`` ARKs, plus one per (rare) round of re-minting the collisions.

    Two harvests minting at the same moment can still draw the same fresh ARK; the
    unique constraints on ``persistent_id`` stop that at insert, which is the final
    guard (and at 29**8 blades, a one-in-a-billion event per batch of thousands)."""
    naan, shoulder = _namespace(settings, naan, shoulder)
    accepted: dict[str, None] = {}
    for _ in range(MAX_ROUNDS):
        missing = count - len(accepted)
        if missing == 0:
            break
        fresh = [
            ark
            for ark in mint(missing, naan=naan, shoulder=shoulder, source=source)
            if ark not in accepted
        ]
        for start in range(0, len(fresh), chunk_size):
            chunk = fresh[start : start + chunk_size]
            taken = await _taken(session, chunk)
            accepted.update((ark, None) for ark in chunk if ark not in taken)
    if len(accepted) < count:
        raise MintingExhausted(
            f"{count - len(accepted)} of {count} new ARKs still collided with existing ones "
            f"after {MAX_ROUNDS} rounds: check the random source and the shoulder "
            f"{shoulder!r} (STREAMWEAVE_ARK_SHOULDER)"
        )
    return list(accepted)


@dataclass(frozen=True)
class Resolution:
    """What an ARK names: a file, with all its versions, and the version asked for when
    the ARK is a version's."""

    ark: Ark
    file: FileRecord
    versions: list[FileVersion]
    requested: FileVersion | None


def not_found(ark: Ark) -> NotFound:
    # One message for "no such ARK" and "not yours to see", built from the request only.
    return NotFound(f"{ark.base} not found")


def ours(text: str, settings: ArkNamespace) -> Ark:
    """``text`` parsed as an ARK this installation could have minted.

    MalformedArk for text that is no ARK; NotFound for another NAAN (we resolve only
    our own); CheckCharacterMismatch for a name under our shoulder whose check
    character is wrong. Decided from the text alone, before any lookup, so none of
    these answers depends on what is stored. ARKs under another of our shoulders (an
    earlier STREAMWEAVE_ARK_SHOULDER, or imported identifiers) are looked up as they
    are: whether they carry a check character is not known.
    """
    ark = parse(text)
    if ark.naan != settings.ark_naan:
        raise not_found(ark)
    if ark.name.startswith(settings.ark_shoulder):
        ark.require_check()
    return ark


async def _find(
    session: AsyncSession, who: Principals, ark: Ark
) -> tuple[FileRecord, FileVersion | None]:
    record = await session.scalar(
        select(FileRecord).where(FileRecord.persistent_id == ark.base, file_visible(who))
    )
    if record is not None:
        return record, None
    row = (
        await session.execute(
            select(FileRecord, FileVersion)
            .join(FileVersion, FileVersion.file_id == FileRecord.id)
            .where(FileVersion.persistent_id == ark.base, file_visible(who))
        )
    ).first()
    if row is None:
        raise not_found(ark)
    return row[0], row[1]


async def resolve(session: AsyncSession, who: Principals | None, ark: Ark) -> Resolution:
    """The file (or file version) ``ark`` names, if ``who`` may see it; otherwise
    NotFound, exactly as for an ARK that names nothing. Anonymous callers see nothing."""
    # Qualifiers name parts of an object: files have none.
    if who is None or ark.qualifier:
        raise not_found(ark)
    record, requested = await _find(session, who, ark)
    versions = await session.scalars(
        select(FileVersion).where(FileVersion.file_id == record.id).order_by(FileVersion.version)
    )
    return Resolution(ark=ark, file=record, versions=list(versions), requested=requested)


async def instrument_name(session: AsyncSession, resolution: Resolution) -> str | None:
    """The ARK kernel's "who": the instrument that produced the file."""
    name: str | None = await session.scalar(
        select(Instrument.name).where(Instrument.id == resolution.file.instrument_id)
    )
    return name
