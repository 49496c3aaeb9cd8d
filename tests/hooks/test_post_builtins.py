"""metadata_enrichment and access_assignment, and metadata flowing between them."""

from __future__ import annotations

import random
from pathlib import Path

from streamweave.hooks import GrantRequest, HookChain
from streamweave.simlab import formats
from tests.hooks.factories import facts, spec
from tests.hooks.test_extractors import EXPERIMENT


async def test_regex_rules_on_filename_and_path() -> None:
    chain = HookChain(
        [
            spec(
                "metadata_enrichment",
                {
                    "rules": [
                        {"pattern": r"^(?P<sample>S\d+)_(?P<run>\d+)"},
                        {"pattern": r"^(?P<project>[^/]+)/(?P<operator>[a-z]+)?", "source": "path"},
                    ]
                },
            )
        ]
    )
    (outcome,) = await chain.run_post([facts("cryo/anna/S12_003.raw", metadata={"run": "x"})])
    assert outcome.metadata == {
        "sample": "S12",
        "run": "003",
        "project": "cryo",
        "operator": "anna",
    }
    assert outcome.failures == [] and outcome.grants == []


async def test_unmatched_optional_groups_are_left_out() -> None:
    chain = HookChain(
        [spec("metadata_enrichment", {"rules": [{"pattern": r"(?P<a>x)?(?P<b>\d+)"}]})]
    )
    (outcome,) = await chain.run_post([facts("42.raw")])
    assert outcome.metadata == {"b": "42"}


async def test_extractors_read_the_local_copy(tmp_path: Path) -> None:
    (tmp_path / "acqus").write_text(formats.acqus(EXPERIMENT, "/data/1/acqus"))
    (tmp_path / "img.tif").write_bytes(
        b"".join(
            formats.tiff(
                random.Random(2),
                8,
                4,
                description="d",
                software="s",
                datetime="2026:01:01 00:00:00",
                pixels_per_cm=10,
            )
        )
    )
    chain = HookChain([spec("metadata_enrichment", {"extractors": ["bruker_acqus", "tiff_tags"]})])
    acqus, image, remote, other = await chain.run_post(
        [
            facts("exp/1/acqus", local_copy=str(tmp_path / "acqus")),
            facts("tem/img.tif", local_copy=str(tmp_path / "img.tif")),
            facts("tem/remote.tif"),  # remote storage: no local copy, skipped, no failure
            facts("tem/notes.txt", local_copy=str(tmp_path / "missing.txt")),  # never read
        ]
    )
    assert acqus.metadata["acqus.NS"] == 16 and acqus.metadata["acqus.SOLVENT"] == "CDCl3"
    assert image.metadata["tiff.width"] == 8 and image.metadata["tiff.height"] == 4
    assert remote.metadata == {} and other.metadata == {}
    assert [o.failures for o in (acqus, image, remote, other)] == [[], [], [], []]


async def test_extractor_failure_drops_the_hooks_metadata_for_that_file(tmp_path: Path) -> None:
    (tmp_path / "bad.tif").write_bytes(b"not a tiff at all")
    chain = HookChain(
        [
            spec(
                "metadata_enrichment",
                {"rules": [{"pattern": r"(?P<stem>\w+)\."}], "extractors": ["tiff_tags"]},
                name="enrich",
            )
        ]
    )
    (outcome,) = await chain.run_post([facts("bad.tif", local_copy=str(tmp_path / "bad.tif"))])
    assert outcome.metadata == {}  # all or nothing
    (failure,) = outcome.failures
    assert failure.hook == "enrich" and "tiff_tags" in failure.message and not failure.blocking


async def test_access_assignment_literal_and_metadata_values() -> None:
    chain = HookChain(
        [
            spec(
                "access_assignment",
                {
                    "grants": [
                        {
                            "grantee_type": "project",
                            "match_field": "cryo-2026",
                            "source": "literal",
                        },
                        {"grantee_type": "user", "match_field": "owner_email"},
                        {"grantee_type": "group", "match_field": "groups"},
                        {"grantee_type": "user", "match_field": "absent"},
                    ]
                },
            )
        ]
    )
    with_meta, without = await chain.run_post(
        [
            facts(
                "a.raw",
                metadata={"owner_email": " anna@lab.org ", "groups": ["em", "", None, "em", 7]},
            ),
            facts("b.raw"),
        ]
    )
    assert with_meta.grants == [
        GrantRequest("project", "cryo-2026"),
        GrantRequest("user", "anna@lab.org"),
        GrantRequest("group", "em"),
        GrantRequest("group", "7"),
    ]
    assert without.grants == [GrantRequest("project", "cryo-2026")]
    assert with_meta.failures == without.failures == []


async def test_access_assignment_refuses_objects_as_grantees() -> None:
    chain = HookChain(
        [spec("access_assignment", {"grants": [{"grantee_type": "user", "match_field": "o"}]})]
    )
    (outcome,) = await chain.run_post([facts("a", metadata={"o": {"email": "x"}})])
    assert outcome.grants == []
    assert "metadata key 'o'" in outcome.failures[0].message


async def test_metadata_flows_from_enrichment_to_access_assignment() -> None:
    # The v0 defect: enrichment's output never reached access assignment.
    enrich = spec(
        "metadata_enrichment",
        {"rules": [{"pattern": r"^(?P<group>[a-z]+)/(?P<owner>[a-z]+)/", "source": "path"}]},
        priority=10,
    )
    assign = spec(
        "access_assignment",
        {
            "grants": [
                {"grantee_type": "group", "match_field": "group"},
                {"grantee_type": "user", "match_field": "owner"},
            ]
        },
        priority=20,
    )
    for hooks in ([enrich, assign], [assign, enrich]):  # the order given does not matter
        (outcome,) = await HookChain(hooks).run_post([facts("imaging/anna/run1/a.tif")])
        assert outcome.grants == [GrantRequest("group", "imaging"), GrantRequest("user", "anna")]
        assert outcome.metadata == {"group": "imaging", "owner": "anna"}
