"""The file_filter built-in: include, exclude, minimum size, redirects."""

from __future__ import annotations

from typing import Any

import pytest

from streamweave.hooks import HookChain, PreOutcome
from tests.hooks.factories import facts, spec


async def run_filter(
    config: dict[str, Any], *files: Any, fail_closed: bool = False
) -> list[PreOutcome]:
    chain = HookChain([spec("file_filter", config, name="raw only", fail_closed=fail_closed)])
    return await chain.run_pre(list(files))


async def test_exclude_names_the_hook_and_the_pattern() -> None:
    kept, skipped = await run_filter(
        {"exclude_patterns": ["*.bak", "*.tmp"]}, facts("run1/a.raw"), facts("run1/a.tmp")
    )
    assert kept.skip_rule is None
    assert skipped.skip_rule == "File filter 'raw only' (file_filter): exclude pattern '*.tmp'"
    assert kept.failures == skipped.failures == []


async def test_include_patterns_keep_only_matching_files() -> None:
    raw, log = await run_filter(
        {"include_patterns": ["*.raw", "*.d"]}, facts("run1/a.raw"), facts("run1/a.log")
    )
    assert raw.skip_rule is None
    assert log.skip_rule == (
        "File filter 'raw only' (file_filter): matches no include pattern ('*.raw', '*.d')"
    )


async def test_exclude_wins_over_include() -> None:
    (outcome,) = await run_filter(
        {"include_patterns": ["*.raw"], "exclude_patterns": ["scratch/**"]},
        facts("scratch/a.raw"),
    )
    assert outcome.skip_rule is not None and "scratch/**" in outcome.skip_rule


async def test_min_size() -> None:
    small, exact, empty = await run_filter(
        {"min_size_bytes": 10}, facts("a", 9), facts("b", 10), facts("c", 0)
    )
    assert small.skip_rule == (
        "File filter 'raw only' (file_filter): smaller than min_size_bytes 10 (9 bytes)"
    )
    assert exact.skip_rule is None
    assert empty.skip_rule is not None


async def test_redirect_keeps_the_path_under_the_folder_first_rule_wins() -> None:
    config = {
        "redirect_rules": [
            {"pattern": "*.log", "destination": "logs"},
            {"pattern": "run1/**", "destination": "runs/first"},
        ]
    }
    log, run, other = await run_filter(
        config, facts("run1/a.log"), facts("run1/sub/b.raw"), facts("run2/c.raw")
    )
    assert log.destination_path == "logs/nmr-600/run1/a.log"
    assert run.destination_path == "runs/first/nmr-600/run1/sub/b.raw"
    assert other.destination_path == "nmr-600/run2/c.raw"
    assert [o.skip_rule for o in (log, run, other)] == [None, None, None]


@pytest.mark.parametrize(
    "destination",
    ["../x", "/etc", "a/../../b", "logs/..", "\uff0e\uff0e/escape", "a\\..\\..\\b"],
)
@pytest.mark.parametrize("fail_closed", [False, True])
async def test_bad_redirect_is_a_failure_never_an_escape(
    destination: str, fail_closed: bool
) -> None:
    # The API refuses such configs; a stored one (older rules, edited row) must still
    # not move a file outside the storage root. Bypass the schema check the way a
    # stored row would: the chain re-validates and reports the hook as broken, or the
    # redirect itself is refused.
    (outcome,) = await run_filter(
        {"redirect_rules": [{"pattern": "*", "destination": destination}]},
        facts("run1/a.raw"),
        fail_closed=fail_closed,
    )
    assert outcome.destination_path == "nmr-600/run1/a.raw"
    assert outcome.skip_rule is None
    (failure,) = outcome.failures
    assert failure.hook == "raw only"
    assert failure.blocking is fail_closed
    assert outcome.blocked is fail_closed


async def test_redirect_of_an_unsafe_file_path_is_refused() -> None:
    # The folder is fine; the file's own destination (set by an earlier hook or a
    # strange listing) would escape.
    (outcome,) = await run_filter(
        {"redirect_rules": [{"pattern": "*", "destination": "logs"}]},
        facts("a.log", destination_path="../../etc/a.log"),
    )
    assert outcome.destination_path == "../../etc/a.log"  # unchanged: not transferred by hook
    (failure,) = outcome.failures
    assert "redirect rule 1" in failure.message and "'..'" in failure.message


async def test_unicode_paths() -> None:
    config = {
        "exclude_patterns": ["Probe-ü*.tmp"],
        "redirect_rules": [{"pattern": "Müller/**", "destination": "Gruppe Müller"}],
    }
    skipped, moved = await run_filter(
        config, facts("x/Probe-\u0075\u0308ber.tmp"), facts("Mu\u0308ller/Ü 1.raw")
    )
    assert skipped.skip_rule is not None
    assert moved.destination_path == "Gruppe Müller/nmr-600/Mu\u0308ller/Ü 1.raw"


async def test_input_facts_are_not_changed() -> None:
    original = facts("run1/a.log", metadata={"k": "v"})
    chain = HookChain(
        [spec("file_filter", {"redirect_rules": [{"pattern": "*", "destination": "l"}]})]
    )
    (outcome,) = await chain.run_pre([original])
    assert outcome.destination_path == "l/nmr-600/run1/a.log"
    assert original.destination_path == "nmr-600/run1/a.log"
    assert outcome.metadata == {"k": "v"} and outcome.metadata is not original.metadata
