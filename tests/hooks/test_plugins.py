"""Hook plugins found through the entry-point group ``streamweave.hooks``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from streamweave.errors import InvalidInput
from streamweave.hooks import GrantRequest, HookChain
from streamweave.hooks import plugins as plugins_module
from streamweave.hooks.validation import validate_hook
from tests.hooks import sample_plugins
from tests.hooks.factories import facts, spec


@pytest.fixture(autouse=True)
def installed(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with sample_plugins.registered(monkeypatch):
        yield


def plugin(name: str, trigger: str = "pre_transfer", **config: object) -> object:
    return spec(name, dict(config), name=f"my {name}", trigger=trigger, implementation="plugin")


def test_discovery_keeps_good_plugins_and_explains_broken_ones() -> None:
    found = plugins_module.installed()
    assert sorted(found.plugins) == ["crashing", "lims_owner", "lims_route", "odd"]
    assert "differs from its entry point's name" in found.broken["misnamed"]
    assert "neither" in found.broken["wrong_trigger"]
    assert "not a hook plugin" in found.broken["not_a_plugin"]
    assert "cannot be loaded" in found.broken["missing_module"]
    with pytest.raises(LookupError, match="installed: crashing, lims_owner, lims_route, odd"):
        plugins_module.find("nope")
    with pytest.raises(LookupError, match="unusable"):
        plugins_module.find("misnamed")


def test_validation_of_plugin_hooks() -> None:
    assert validate_hook("plugin", "pre_transfer", "lims_route", {"prefix": "p"}) == {"prefix": "p"}
    with pytest.raises(InvalidInput, match="prefix"):
        validate_hook("plugin", "pre_transfer", "lims_route", {})
    with pytest.raises(InvalidInput, match="runs at 'post_transfer'"):
        validate_hook("plugin", "pre_transfer", "lims_owner", {})
    with pytest.raises(InvalidInput, match=r"builtin_name: .*installed: crashing"):
        validate_hook("plugin", "pre_transfer", "nope", {})
    assert validate_hook("plugin", "post_transfer", "lims_owner", {"any": 1}) == {"any": 1}


async def test_pre_plugin_redirects_skips_and_adds_metadata() -> None:
    hooks = [plugin("lims_route", prefix="projects")]
    routed, skipped = await HookChain(hooks).run_pre(  # type: ignore[arg-type]
        [facts("a.raw", metadata={"m": 1}), facts("b.secret")]
    )
    assert routed.destination_path == "projects/nmr-600/a.raw"
    assert routed.metadata == {"m": 1, "routed_by": "lims", "seen": {"m": 1, "tampered": True}}
    assert "tampered" not in routed.metadata  # the plugin changed its copy only
    assert skipped.skip_rule == "Plugin 'my lims_route' (lims_route): confidential sample"


async def test_post_plugin_grants_and_metadata_from_a_mapping() -> None:
    (outcome,) = await HookChain([plugin("lims_owner", "post_transfer")]).run_post(  # type: ignore[list-item]
        [facts("a.raw")]
    )
    assert outcome.metadata == {"owner": "anna@lab.org"}
    assert outcome.grants == [GrantRequest("user", "anna@lab.org")]


@pytest.mark.parametrize(
    ("path", "hook", "problem"),
    [
        ("a.raw", "crashing", "raised RuntimeError: LIMS database unreachable"),
        ("a.raw", "odd", "returned int"),
        ("a.escape", "lims_route", "destination that was refused"),
        ("a.grant", "lims_route", "grants before the transfer"),
        ("a.raw", "missing_module", "cannot be loaded"),
        ("a.raw", "not_installed", "installed: crashing"),
    ],
)
async def test_plugin_problems_are_failures(path: str, hook: str, problem: str) -> None:
    (outcome,) = await HookChain([plugin(hook, prefix="p")]).run_pre([facts(path)])  # type: ignore[list-item]
    (failure,) = outcome.failures
    assert problem in failure.message
    assert outcome.destination_path == "nmr-600/" + path and outcome.skip_rule is None
