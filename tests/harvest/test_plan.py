"""The plan's merge of a listing with the database's glances, without a database: pages
that are wholly unchanged are recognised at once, and every other page is still read
file by file, whatever the page boundaries."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from streamweave.harvest.plan import Known, Listed, Plan, Planner
from streamweave.harvest.rules import Completion, CompletionRule, waits_for_others
from streamweave.timestamps import microseconds

NOW = datetime(2026, 11, 22, tzinfo=UTC)
MTIME = 1_700_000_000_000_000


def _planner(listing: Sequence[Listed]) -> Planner:
    now_us = microseconds(NOW) or 0
    completion = Completion(CompletionRule(), [entry.path for entry in listing], now_us)
    return Planner(uuid.uuid4(), uuid.uuid4(), completion, "signature", NOW)


def _glance(path: str, size: int = 4, mtime: int = MTIME, settled: bool = True) -> tuple:
    return (path, size, mtime, settled, False)


def _known(path: str, size: int = 4, mtime: int = MTIME) -> Known:
    return Known(
        uuid.uuid4().hex, path, size, mtime, 0, False, "completed", 0, None, "signature",
        uuid.uuid4().hex, size, mtime, 1, path, "ark:/99999/fk4a", "ark:/99999/fk4b",
    )  # fmt: skip


async def _plan(
    listing: list[Listed], glances: list[tuple], page: int, known: dict[str, Known]
) -> tuple[Plan, list[str]]:
    """Every plan the planner yields, merged, and the paths it asked to read whole."""
    asked: list[str] = []

    async def pages() -> AsyncIterator[Sequence[Any]]:
        for start in range(0, len(glances), page):
            yield glances[start : start + page]

    async def read_entries(paths: Sequence[str]) -> dict[str, Known]:
        asked.extend(paths)
        return {path: known[path] for path in paths if path in known}

    total = Plan()
    async for plan in _planner(listing).pages(listing, pages(), read_entries, size=page):
        total.candidates += plan.candidates
        total.updates += plan.updates
        total.vanished_entries += plan.vanished_entries
        total.new += plan.new
        total.unchanged += plan.unchanged
    return total, asked


def _names(count: int) -> list[str]:
    return [f"run/{number:05d}.raw" for number in range(count)]


@pytest.mark.parametrize("page", [1, 7, 100, 1000])
async def test_an_unchanged_tree_is_unchanged_and_nothing_is_read_whole(page: int) -> None:
    names = _names(1000)
    listing = [Listed(name, 4, MTIME) for name in names]
    plan, asked = await _plan(listing, [_glance(name) for name in names], page, {})
    assert plan.unchanged == 1000
    assert (plan.new, plan.candidates, plan.updates, asked) == (0, [], [], [])


@pytest.mark.parametrize("page", [1, 7, 100, 1000])
async def test_changes_among_unchanged_pages_are_each_found(page: int) -> None:
    names = _names(1000)
    listing = [Listed(name, 4, MTIME) for name in names if name != names[500]]
    listing[10] = Listed(names[10], 5, MTIME)  # grew
    listing[700] = Listed(listing[700].path, 4, MTIME + 1)  # touched
    listing.append(Listed("run/00250.raw.new", 4, MTIME))  # new, between two known
    listing.append(Listed("zz-last.raw", 4, MTIME))  # new, after every known
    listing.sort()
    glances = [_glance(name) for name in names]
    glances[900] = _glance(names[900], settled=False)  # failed last time, say
    known = {name: _known(name) for name in names}

    plan, asked = await _plan(listing, glances, page, known)

    changed = {names[10], names[701]}
    assert {candidate.path for candidate in plan.candidates} == changed | {
        "run/00250.raw.new",
        "zz-last.raw",
    }
    assert plan.new == 2
    # The unsettled glance is read whole, and is the same file it was when harvested.
    assert plan.unchanged == 1000 - 1 - len(changed)
    assert sorted(asked) == sorted(changed | {names[500], names[900]})
    assert len(plan.vanished_entries) == 1


@pytest.mark.parametrize(
    ("marker", "unfinished", "waits"),
    [
        ("run1/RTAComplete.txt", [], False),
        ("run1/RTAComplete.txt", ["run1/RTAComplete.txt"], False),  # only itself
        ("run1/RTAComplete.txt", ["run1/RTAComplete.txt", "run1/deep/er/a.bcl"], True),
        ("run1/RTAComplete.txt", ["run1/a.bcl", "run1/RTAComplete.txt"], True),
        ("run1/RTAComplete.txt", ["run10/a.bcl", "run1a.bcl", "run2/b.bcl"], False),  # siblings
        ("RTAComplete.txt", ["RTAComplete.txt", "any/where.bcl"], True),  # at the root
        ("RTAComplete.txt", ["RTAComplete.txt"], False),
    ],
)
def test_a_marker_waits_only_for_unfinished_files_below_its_directory(
    marker: str, unfinished: list[str], waits: bool
) -> None:
    assert waits_for_others(marker, sorted(unfinished)) is waits
