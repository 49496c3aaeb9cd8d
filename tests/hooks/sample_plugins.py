"""Hook plugins as a third-party package would ship them, and a way to register them
through fake ``importlib.metadata`` entry points."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib.metadata import EntryPoint
from typing import Any

import pytest

from streamweave.hooks import FileFacts, GrantRequest, Plugin, PluginResult
from streamweave.hooks import plugins as plugins_module


async def _route(facts: FileFacts, config: Mapping[str, Any]) -> PluginResult | None:
    facts.metadata["tampered"] = True  # a copy: must not leak into the chain
    if facts.source_path.endswith(".secret"):
        return PluginResult(skip_reason="confidential sample")
    if facts.source_path.endswith(".escape"):
        return PluginResult(destination="../outside")
    if facts.source_path.endswith(".grant"):
        return PluginResult(grants=[GrantRequest("user", "x@lab.org")])
    return PluginResult(
        destination=f"{config['prefix']}/{facts.destination_path}",
        metadata={"routed_by": "lims", "seen": dict(facts.metadata)},
    )


async def _owner(facts: FileFacts, config: Mapping[str, Any]) -> Mapping[str, Any]:
    # A plain mapping works too: no import of StreamWeave needed in simple plugins.
    return {
        "metadata": {"owner": "anna@lab.org"},
        "grants": [{"grantee_type": "user", "value": "anna@lab.org"}],
    }


async def _crash(facts: FileFacts, config: Mapping[str, Any]) -> None:
    raise RuntimeError("LIMS database unreachable")


async def _odd(facts: FileFacts, config: Mapping[str, Any]) -> Any:
    return 42


lims_route = Plugin(
    "lims_route",
    "pre_transfer",
    run=_route,
    description="Routes files by LIMS project",
    config_schema={
        "type": "object",
        "additionalProperties": False,
        "required": ["prefix"],
        "properties": {"prefix": {"type": "string", "minLength": 1}},
    },
)
lims_owner = Plugin("lims_owner", "post_transfer", run=_owner)
crashing = Plugin("crashing", "pre_transfer", run=_crash)
odd = Plugin("odd", "pre_transfer", run=_odd)
misnamed = Plugin("other_name", "pre_transfer", run=_crash)
wrong_trigger = Plugin("wrong_trigger", "whenever", run=_crash)
not_a_plugin = object()

ALL = {
    "lims_route": "lims_route",
    "lims_owner": "lims_owner",
    "crashing": "crashing",
    "odd": "odd",
    "misnamed": "misnamed",
    "wrong_trigger": "wrong_trigger",
    "not_a_plugin": "not_a_plugin",
    "missing_module": "tests.hooks.no_such_module:plugin",
}


@contextmanager
def registered(monkeypatch: pytest.MonkeyPatch, names: Mapping[str, str] = ALL) -> Iterator[None]:
    """Entry points in the group ``streamweave.hooks``, each pointing at an object of this
    module (or at a full ``module:attr``)."""
    entries = [
        EntryPoint(
            name=name,
            value=target if ":" in target else f"{__name__}:{target}",
            group=plugins_module.ENTRY_POINT_GROUP,
        )
        for name, target in names.items()
    ]

    def entry_points(*, group: str) -> list[EntryPoint]:
        return entries if group == plugins_module.ENTRY_POINT_GROUP else []

    monkeypatch.setattr(plugins_module, "entry_points", entry_points)
    plugins_module.installed.cache_clear()
    try:
        yield
    finally:
        monkeypatch.undo()
        plugins_module.installed.cache_clear()
