"""ARKs: the NCDA check character, minting, parsing, the settings that shape them, and
collision-free bulk minting against the database (one query per chunk, not per ARK)."""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from pydantic import ValidationError
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from streamweave.config import Settings, load_settings
from streamweave.db.bulk import existing, insert_many
from streamweave.db.engine import create_sessionmaker
from streamweave.db.ids import new_id
from streamweave.db.models import FileRecord, FileVersion, Instrument
from streamweave.errors import ConfigurationError
from streamweave.identifiers import (
    Ark,
    ArkError,
    CheckCharacterMismatch,
    MalformedArk,
    MintingExhausted,
    check_char,
    mint,
    parse,
)
from streamweave.identifiers.ark import BETANUMERIC, MAX_REPEATS, compose, random_blade
from streamweave.identifiers.service import mint_unique
from tests.api.conftest import add_file_with_versions

NAAN, SHOULDER = "99999", "fk4"
MINTED = re.compile(rf"ark:/{NAAN}/{SHOULDER}[{BETANUMERIC}]{{9}}")


# --- check character -------------------------------------------------------------------


def test_check_character_of_the_published_noid_example() -> None:
    assert check_char("13030/xf93gt2") == "q"
    assert parse("ark:/13030/xf93gt2q").check_ok


def test_check_character_counts_characters_outside_the_alphabet_as_zero() -> None:
    # "/" and vowels weigh nothing but still take up a position.
    assert check_char("1/1") == check_char("1a1") == BETANUMERIC[1 + 3]


def _noid_example_variants() -> Iterator[str]:
    body = "13030/xf93gt2"
    for i, char in enumerate(body):
        if char == "/":
            continue
        for other in BETANUMERIC:
            if other != char:
                yield body[:i] + other + body[i + 1 :]
    for i in range(len(body) - 1):
        if body[i] != body[i + 1] and "/" not in body[i : i + 2]:
            yield body[:i] + body[i + 1] + body[i] + body[i + 2 :]


@pytest.mark.parametrize("typo", list(_noid_example_variants()))
def test_check_character_catches_every_substitution_and_adjacent_transposition(
    typo: str,
) -> None:
    assert typo + "q" != "13030/xf93gt2q"
    assert check_char(typo) != "q"


# --- minting ---------------------------------------------------------------------------


def test_mint_gives_distinct_well_formed_arks_with_valid_check_characters() -> None:
    arks = mint(500, naan=NAAN, shoulder=SHOULDER, blade_length=8)
    assert len(set(arks)) == 500
    for ark in arks:
        assert MINTED.fullmatch(ark), ark
        assert parse(ark).check_ok


def test_mint_zero_is_empty_and_longer_blades_are_honoured() -> None:
    assert mint(0, naan=NAAN, shoulder=SHOULDER) == []
    (ark,) = mint(1, naan=NAAN, shoulder=SHOULDER, blade_length=12)
    assert len(parse(ark).name) == len(SHOULDER) + 12 + 1


def test_random_blade_uses_only_betanumeric_characters() -> None:
    blades = [random_blade(8) for _ in range(2000)]
    assert all(len(blade) == 8 and set(blade) <= set(BETANUMERIC) for blade in blades)
    # Every character appears: the base-29 conversion reaches the whole alphabet.
    assert set("".join(blades)) == set(BETANUMERIC)


def test_mint_draws_again_when_the_source_repeats_a_blade() -> None:
    blades = iter(["bbbbbbbb", "bbbbbbbb", "cccccccc"])
    arks = mint(2, naan=NAAN, shoulder=SHOULDER, source=lambda _length: next(blades))
    assert arks == [compose(NAAN, SHOULDER, "bbbbbbbb"), compose(NAAN, SHOULDER, "cccccccc")]


def test_mint_gives_up_on_a_source_that_only_repeats() -> None:
    with pytest.raises(MintingExhausted):
        mint(2, naan=NAAN, shoulder=SHOULDER, source=lambda _length: "bbbbbbbb")


def test_mint_draws_from_a_source_as_often_as_one_blade_at_a_time() -> None:
    blades = [f"{index:08d}" for index in range(1000)]
    queue = iter(blades)
    arks = mint(1000, naan=NAAN, shoulder=SHOULDER, source=lambda _length: next(queue))
    assert arks == [compose(NAAN, SHOULDER, blade) for blade in blades]
    assert next(queue, None) is None

    draws: list[int] = []

    def repeating(length: int) -> str:
        draws.append(length)
        return "bbbbbbbb"

    with pytest.raises(MintingExhausted):
        mint(3, naan=NAAN, shoulder=SHOULDER, source=repeating)
    assert len(draws) == 3 + MAX_REPEATS


def test_mint_in_bulk_gives_distinct_valid_arks_of_betanumeric_blades() -> None:
    arks = mint(20_000, naan=NAAN, shoulder=SHOULDER)
    assert len(set(arks)) == 20_000
    for ark in arks:
        assert MINTED.fullmatch(ark), ark
        assert parse(ark).check_ok
        assert ark == compose(NAAN, SHOULDER, ark[-9:-1])


def test_minted_blades_use_every_character_equally_often() -> None:
    # A harvest's worth: 40,000 blades, 320,000 characters, about 11,034 of each (one
    # standard deviation is 103). The bound is 5.3 of those, so it never fails by
    # chance, and it is half the 9% shortfall that taking random bytes mod 29 without
    # rejecting any would give the last five characters.
    blades = [ark[-9:-1] for ark in mint(40_000, naan=NAAN, shoulder=SHOULDER, blade_length=8)]
    counts = Counter("".join(blades))
    expected = 40_000 * 8 / len(BETANUMERIC)
    assert set(counts) == set(BETANUMERIC)
    assert all(abs(count - expected) < 0.05 * expected for count in counts.values()), counts
    # No position is stuck: each one takes every character.
    assert all({blade[i] for blade in blades} == set(BETANUMERIC) for i in range(8))


@pytest.mark.parametrize(
    "kwargs",
    [
        {"count": -1},
        {"blade_length": 7},
        {"naan": "1234"},
        {"naan": "1234x"},
        {"shoulder": "fk"},
        {"shoulder": "fa4"},
        {"shoulder": "FK4"},
    ],
    ids=[
        "negative count",
        "short blade",
        "short naan",
        "letter in naan",
        "no digit",
        "vowel",
        "uppercase",
    ],
)
def test_mint_refuses_what_would_not_be_a_valid_ark(kwargs: dict[str, Any]) -> None:
    arguments: dict[str, Any] = {"count": 1, "naan": NAAN, "shoulder": SHOULDER, **kwargs}
    count = arguments.pop("count")
    with pytest.raises(ArkError):
        mint(count, **arguments)


# --- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "ark:/13030/xf93gt2q",
        "ark:13030/xf93gt2q",
        "ARK:/13030/xf93gt2q",
        "  ark:/13030/xf93gt2q  ",
        "ark:/13030/xf93-gt2-q",
        "ark:/13-030/xf93gt2q",
        "ark:/13030/xf93gt2q?info",
        "ark:/13030/xf93gt2q??",
        "https://n2t.net/ark:/13030/xf93gt2q",
        "ark:/13030/xf93gt2q/",
    ],
)
def test_parse_normalises_both_forms_to_one_ark(text: str) -> None:
    ark = parse(text)
    assert ark == Ark(naan="13030", name="xf93gt2q")
    assert ark.base == "ark:/13030/xf93gt2q"
    assert ark.check_ok


def test_parse_keeps_the_case_of_the_name_and_lowercases_the_naan() -> None:
    ark = parse("ark:/B5072/Fk4AbC")
    assert (ark.naan, ark.name) == ("b5072", "Fk4AbC")


def test_parse_separates_qualifiers() -> None:
    assert parse("ark:/13030/xf93gt2q/chapter//1.pdf/") == Ark(
        naan="13030", name="xf93gt2q", qualifier="/chapter/1.pdf"
    )
    assert parse("ark:13030/xf93gt2q.v2").qualifier == ".v2"


def test_parse_lowercases_percent_escapes_only() -> None:
    assert parse("ark:/13030/Ab%2Fc").name == "Ab%2fc"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "13030/xf93gt2q",
        "ark:",
        "ark:/13030",
        "ark:/13030/",
        "ark://xf93gt2q",
        "ark:/13a30/xf93gt2q",
        "ark:/13030/xf93 gt2q",
        "ark:/13030/xf93gt2é",
        "ark:/13030/\x00",
        "urn:ark:/13030/xf93gt2q",
    ],
)
def test_parse_refuses_what_is_not_an_ark(text: str) -> None:
    with pytest.raises(MalformedArk):
        parse(text)


def test_a_wrong_check_character_names_the_right_one() -> None:
    ark = parse("ark:/13030/xf93gt2x")
    assert not ark.check_ok
    with pytest.raises(CheckCharacterMismatch) as caught:
        ark.require_check()
    assert caught.value.expected == "q"
    assert "'q'" in str(caught.value)
    assert "ark:/13030/xf93gt2q" in str(caught.value)


# --- settings --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("naan", "shoulder"), [("99999", "fk4"), ("13030", "x5"), ("123456", "b7")]
)
def test_settings_accept_a_naan_and_a_shoulder(naan: str, shoulder: str) -> None:
    settings = Settings(ark_naan=naan, ark_shoulder=shoulder)
    assert (settings.ark_naan, settings.ark_shoulder) == (naan, shoulder)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("STREAMWEAVE_ARK_NAAN", "9999"),
        ("STREAMWEAVE_ARK_NAAN", "99x99"),
        ("STREAMWEAVE_ARK_SHOULDER", "fk"),
        ("STREAMWEAVE_ARK_SHOULDER", "ab4"),
        ("STREAMWEAVE_ARK_SHOULDER", "fk-4"),
        ("STREAMWEAVE_ARK_SHOULDER", ""),
    ],
)
def test_settings_refuse_an_invalid_naan_or_shoulder_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str
) -> None:
    monkeypatch.setenv("STREAMWEAVE_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    assert variable in str(caught.value)
    assert "must be" in str(caught.value)
    with pytest.raises(ValidationError):
        Settings(**{variable.removeprefix("STREAMWEAVE_").lower(): value})


def test_settings_read_the_naan_and_shoulder_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STREAMWEAVE_ARK_NAAN", "13030")
    monkeypatch.setenv("STREAMWEAVE_ARK_SHOULDER", "x5")
    assert (Settings().ark_naan, Settings().ark_shoulder) == ("13030", "x5")


# --- collision-free minting against the database ---------------------------------------


@pytest_asyncio.fixture(loop_scope="session")
async def session(clean_database: AsyncEngine) -> AsyncIterator[AsyncSession]:
    async with create_sessionmaker(clean_database)() as opened:
        yield opened


class StatementCounter:
    """Counts the SQL statements an engine sends while it is active."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine.sync_engine
        self.count = 0

    def _count(self, *_args: Any) -> None:
        self.count += 1

    def __enter__(self) -> StatementCounter:
        event.listen(self.engine, "before_cursor_execute", self._count)
        return self

    def __exit__(self, *_exc: Any) -> None:
        event.remove(self.engine, "before_cursor_execute", self._count)


def forced(*blades: str) -> Any:
    """A blade source that returns ``blades`` first, then random ones."""
    queue = iter(blades)
    return lambda length: next(queue, None) or random_blade(length)


async def _file_with_version(session: AsyncSession, file_ark: str, version_ark: str) -> None:
    """A file and its one version holding these ARKs: taken, so minting must avoid both."""
    version = {"version": 1, "persistent_id": version_ark, "size_bytes": 1}
    await add_file_with_versions(
        session,
        "nmr-600",
        [version],
        persistent_id=file_ark,
        source_path="/run/fid",
        filename="fid",
    )


async def test_mint_unique_re_mints_arks_already_in_use_with_one_query_per_chunk(
    session: AsyncSession, clean_database: AsyncEngine
) -> None:
    file_ark, version_ark = compose(NAAN, SHOULDER, "bbbbbbbb"), compose(NAAN, SHOULDER, "cccccccc")
    await _file_with_version(session, file_ark, version_ark)
    settings = Settings(ark_naan=NAAN, ark_shoulder=SHOULDER)

    with StatementCounter(clean_database) as statements:
        arks = await mint_unique(
            session, 5, settings, chunk_size=2, source=forced("bbbbbbbb", "cccccccc")
        )

    assert len(set(arks)) == 5
    assert file_ark not in arks and version_ark not in arks
    assert all(MINTED.fullmatch(ark) and parse(ark).check_ok for ark in arks)
    # Round 1: five ARKs in chunks of 2 (3 queries), two taken; round 2: two fresh (1).
    assert statements.count == 4


async def test_mint_unique_issues_one_query_per_chunk_for_thousands(
    session: AsyncSession, clean_database: AsyncEngine
) -> None:
    with StatementCounter(clean_database) as statements:
        arks = await mint_unique(session, 2500, None, naan=NAAN, shoulder=SHOULDER, chunk_size=1000)
    assert len(set(arks)) == 2500
    assert statements.count == 3


async def test_mint_unique_default_chunk_holds_a_whole_harvest_batch(
    session: AsyncSession, clean_database: AsyncEngine
) -> None:
    settings = Settings(ark_naan=NAAN, ark_shoulder=SHOULDER)
    with StatementCounter(clean_database) as statements:
        arks = await mint_unique(session, 4000, settings)
    assert len(set(arks)) == 4000
    assert statements.count == 1


async def test_mint_unique_gives_up_when_every_draw_is_taken(session: AsyncSession) -> None:
    await _file_with_version(
        session, compose(NAAN, SHOULDER, "bbbbbbbb"), compose(NAAN, SHOULDER, "cccccccc")
    )
    settings = Settings(ark_naan=NAAN, ark_shoulder=SHOULDER)
    with pytest.raises(MintingExhausted):
        await mint_unique(session, 1, settings, source=lambda _length: "bbbbbbbb")


async def test_mint_unique_needs_a_namespace(session: AsyncSession) -> None:
    with pytest.raises(ArkError):
        await mint_unique(session, 1)


async def _lookup_seconds(session: AsyncSession, count: int) -> float:
    """The best of three lookups of about ``count`` fresh ARKs; each one a different
    number, as harvest pages are (the driver caches a statement it has seen)."""
    columns = (FileRecord.persistent_id, FileVersion.persistent_id)
    timings = []
    for extra in range(3):
        arks = [compose(NAAN, SHOULDER, random_blade(8)) for _ in range(count + extra)]
        started = time.perf_counter()
        assert await existing(session, columns, arks) == set()
        timings.append(time.perf_counter() - started)
    return min(timings)


async def test_the_collision_lookup_costs_the_same_per_ark_for_a_whole_page(
    session: AsyncSession, clean_database: AsyncEngine
) -> None:
    """A harvest page mints tens of thousands of ARKs at once, checked against as many
    in use; with one placeholder per value, SQLite's cost per value grew with their
    number (20,000 took seconds)."""
    instrument = Instrument(name="nmr-600")
    session.add(instrument)
    await session.flush()
    rows = [
        {
            "id": new_id(),
            "persistent_id": compose(NAAN, SHOULDER, f"{index:08d}"),
            "instrument_id": instrument.id,
            "source_path": f"/run/{index}",
            "filename": str(index),
            "seq": index + 1,
        }
        for index in range(20_000)
    ]
    await insert_many(session, FileRecord, rows)
    small = await _lookup_seconds(session, 2_500)
    large = await _lookup_seconds(session, 20_000)
    assert large < 24 * small, (small, large)
