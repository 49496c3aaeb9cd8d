"""The chain: order, flow from hook to hook, fail-open and fail-closed, signature, bulk."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from streamweave.hooks import GrantRequest, HookChain, HookSpec
from tests.hooks.factories import facts, spec


def redirect(folder: str, **kwargs: object) -> HookSpec:
    return spec(
        "file_filter",
        {"redirect_rules": [{"pattern": "*", "destination": folder}]},
        **kwargs,  # type: ignore[arg-type]
    )


async def test_priority_then_name_then_id() -> None:
    hooks = [
        redirect("third", name="b", priority=5, id="2"),
        redirect("fourth", name="b", priority=5, id="3"),
        redirect("first", name="z", priority=-1),
        redirect("second", name="a", priority=5),
        redirect("last", name="a", priority=50),
    ]
    (outcome,) = await HookChain(hooks).run_pre([facts("x.raw", destination_path="x.raw")])
    # Each redirect puts the current path under its folder: the last one is outermost.
    assert outcome.destination_path == "last/fourth/third/second/first/x.raw"


async def test_skip_stops_the_files_chain() -> None:
    hooks = [
        spec("file_filter", {"exclude_patterns": ["*.tmp"]}, name="skip", priority=1),
        redirect("moved", name="later", priority=2),
    ]
    skipped, moved = await HookChain(hooks).run_pre([facts("a.tmp"), facts("a.raw")])
    assert skipped.skip_rule is not None and skipped.destination_path == "nmr-600/a.tmp"
    assert moved.skip_rule is None and moved.destination_path == "moved/nmr-600/a.raw"


def broken(fail_closed: bool, trigger: str = "pre_transfer") -> HookSpec:
    # A stored hook that cannot run (here: a built-in that does not exist).
    return spec(
        "no_such_builtin", name="gone", trigger=trigger, priority=1, fail_closed=fail_closed
    )


async def test_fail_open_failure_lets_the_file_through_to_later_hooks() -> None:
    hooks = [broken(False), spec("file_filter", {"exclude_patterns": ["*.tmp"]}, priority=2)]
    kept, skipped = await HookChain(hooks).run_pre([facts("a.raw"), facts("a.tmp")])
    for outcome in (kept, skipped):
        (failure,) = outcome.failures
        assert failure.hook == "gone" and not failure.blocking
        assert "no_such_builtin" in failure.message
        assert not outcome.blocked
    assert kept.skip_rule is None and kept.destination_path == "nmr-600/a.raw"
    assert skipped.skip_rule is not None


async def test_fail_closed_failure_blocks_and_stops_the_chain() -> None:
    hooks = [broken(True), spec("file_filter", {"exclude_patterns": ["*.tmp"]}, priority=2)]
    (outcome,) = await HookChain(hooks).run_pre([facts("a.tmp")])
    assert outcome.blocked
    assert outcome.skip_rule is None  # the filter did not run after the blocking failure
    assert [f.blocking for f in outcome.failures] == [True]


async def test_post_fail_closed_stops_later_hooks_fail_open_does_not() -> None:
    assign = spec(
        "access_assignment",
        {"grants": [{"grantee_type": "project", "match_field": "p", "source": "literal"}]},
        priority=5,
    )
    for fail_closed, grants in ((False, [GrantRequest("project", "p")]), (True, [])):
        (outcome,) = await HookChain([broken(fail_closed, "post_transfer"), assign]).run_post(
            [facts("a.raw")]
        )
        assert outcome.grants == grants
        assert outcome.blocked is fail_closed


async def test_stored_config_that_no_longer_validates_is_reported() -> None:
    hook = spec("file_filter", {"exclude_patterns": "*.tmp"}, name="old", fail_closed=True)
    (outcome,) = await HookChain([hook]).run_pre([facts("a.tmp")])
    assert outcome.blocked
    assert "exclude_patterns" in outcome.failures[0].message


async def test_builtin_at_the_wrong_trigger_is_reported() -> None:
    hook = spec("metadata_enrichment", trigger="pre_transfer", name="misplaced")
    (outcome,) = await HookChain([hook]).run_pre([facts("a")])
    assert "post_transfer" in outcome.failures[0].message


def test_signature_follows_pre_hooks_only() -> None:
    pre = spec("file_filter", {"exclude_patterns": ["*.tmp"]}, id="f1")
    post = spec("metadata_enrichment", {}, id="m1")
    base = HookChain([pre, post]).pre_signature
    assert len(base) == 64
    assert HookChain([post, pre]).pre_signature == base  # the order given does not matter
    assert (
        HookChain([pre, replace(post, config={"extractors": ["tiff_tags"]})]).pre_signature == base
    )
    assert HookChain([pre, replace(post, name="renamed")]).pre_signature == base
    changed = [
        replace(pre, config={"exclude_patterns": ["*.tmp", "*.bak"]}),
        replace(pre, priority=1),
        replace(pre, fail_closed=True),
        replace(pre, id="f2"),
        replace(pre, target="metadata_enrichment"),
    ]
    signatures = {HookChain([hook, post]).pre_signature for hook in changed}
    assert base not in signatures and len(signatures) == len(changed)
    assert HookChain([post]).pre_signature != base


def test_secret_is_never_in_repr() -> None:
    hook = spec("https://h.example/x", implementation="http_webhook", secret=lambda: "s3cr3t-value")
    assert "s3cr3t" not in repr(hook)
    assert hook.secret() == "s3cr3t-value"


def test_concurrency_must_be_positive() -> None:
    with pytest.raises(ValueError, match="concurrency"):
        HookChain([], concurrency=0)


async def test_empty_chain_and_empty_batch() -> None:
    chain = HookChain([])
    (outcome,) = await chain.run_pre([facts("a")])
    assert outcome.skip_rule is None and outcome.failures == []
    assert await chain.run_post([]) == []
    await chain.aclose()


async def test_bulk_20000_files_is_fast() -> None:
    hooks = [
        spec(
            "file_filter",
            {
                "include_patterns": ["*.raw", "*.tif", "*.log", "**/acqus"],
                "exclude_patterns": ["*.tmp", "~$*", "scratch/**", "**/.cache/*"],
                "min_size_bytes": 1,
                "redirect_rules": [
                    {"pattern": "*.log", "destination": "logs"},
                    {"pattern": "archive/**/*.tif", "destination": "images"},
                ],
            },
        ),
        spec(
            "metadata_enrichment",
            {
                "rules": [
                    {"pattern": r"(?P<sample>S\d+)_(?P<run>\d+)"},
                    {"pattern": r"^(?P<group>[a-z]+)/(?P<owner>[a-z]+)/", "source": "path"},
                ],
                "extractors": ["bruker_acqus", "tiff_tags"],
            },
        ),
        spec(
            "access_assignment",
            {
                "grants": [
                    {"grantee_type": "group", "match_field": "group"},
                    {"grantee_type": "user", "match_field": "owner"},
                    {"grantee_type": "project", "match_field": "cryo", "source": "literal"},
                ]
            },
        ),
    ]
    suffixes = [".raw", ".tif", ".log", ".tmp", ".csv"]
    files = [
        facts(f"grp{i % 7}/user{i % 13}/run{i % 50}/S{i}_{i % 9}{suffixes[i % 5]}", size=i % 1000)
        for i in range(20_000)
    ]
    chain = HookChain(hooks)
    # CPU time, not wall time: the chain does no I/O here, and other work on a busy
    # machine must not fail this test.
    started = time.process_time()
    pre = await chain.run_pre(files)
    kept = [f for f, outcome in zip(files, pre, strict=True) if outcome.skip_rule is None]
    post = await chain.run_post(kept)
    elapsed = time.process_time() - started
    assert elapsed < 2.0, f"20,000 files took {elapsed:.2f} s of CPU"
    assert len(pre) == 20_000 and len(post) == len(kept)
    assert 0 < len(kept) < 20_000
    assert all(not o.failures for o in pre) and all(not o.failures for o in post)
    assert post[0].grants[-1] == GrantRequest("project", "cryo")
