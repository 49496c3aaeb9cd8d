"""Hooks from other packages, found through the entry-point group ``streamweave.hooks``.

A package registers a plugin object under the name admins will use::

    [project.entry-points."streamweave.hooks"]
    lims_lookup = "acme_lims.hooks:plugin"

The object has ``name`` (equal to the entry point's name), ``trigger``
(``"pre_transfer"`` or ``"post_transfer"``), optionally ``config_schema`` (a JSON
Schema the API checks the hook's config against) and ``description``, and an async
``run(facts, config)`` returning a ``PluginResult``, a mapping with the same keys, or
None for "nothing to change". ``Plugin`` below is a ready-made such object.

A hook configuration runs a plugin with ``implementation: "plugin"`` and the plugin's
name in ``builtin_name``. The plugin gets a copy of the file's facts: changing them
changes nothing, only the result counts.
"""

from __future__ import annotations

import asyncio
import copy
import dataclasses
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any, Protocol, runtime_checkable

from streamweave.hooks.concurrency import bounded_map
from streamweave.hooks.effects import Effect, HookError, Results
from streamweave.hooks.model import POST_TRANSFER, PRE_TRANSFER, FileFacts, GrantRequest, HookSpec
from streamweave.hooks.paths import UnsafeDestination, contained

ENTRY_POINT_GROUP = "streamweave.hooks"
TRIGGERS = (PRE_TRANSFER, POST_TRANSFER)


@dataclass(frozen=True)
class PluginResult:
    """What a plugin decides for one file. Pre-transfer plugins may skip (the reason
    names the rule) or set the destination path (relative to the storage root);
    post-transfer plugins may add grants. Both may add metadata."""

    skip_reason: str | None = None
    destination: str | None = None
    metadata: Mapping[str, Any] | None = None
    grants: Sequence[GrantRequest] = ()


PluginRun = Callable[
    [FileFacts, Mapping[str, Any]], Awaitable[PluginResult | Mapping[str, Any] | None]
]


@runtime_checkable
class HookPlugin(Protocol):
    name: str
    trigger: str

    def run(
        self, facts: FileFacts, config: Mapping[str, Any]
    ) -> Awaitable[PluginResult | Mapping[str, Any] | None]: ...


@dataclass(frozen=True)
class Plugin:
    """A plugin built from a function: ``plugin = Plugin("lims_lookup", "post_transfer",
    run=lookup, config_schema={...})``."""

    name: str
    trigger: str
    run: PluginRun
    config_schema: Mapping[str, Any] | None = None
    description: str = ""


@dataclass(frozen=True)
class InstalledPlugins:
    plugins: dict[str, HookPlugin] = field(default_factory=dict)
    # entry point name -> why it is unusable, shown when a hook names it
    broken: dict[str, str] = field(default_factory=dict)

    def names(self) -> str:
        return ", ".join(sorted(self.plugins)) or "none"


def config_schema(plugin: HookPlugin) -> dict[str, Any] | None:
    schema = getattr(plugin, "config_schema", None)
    return dict(schema) if schema is not None else None


def _problem(entry_name: str, plugin: object) -> str | None:
    if not isinstance(plugin, HookPlugin) or not callable(getattr(plugin, "run", None)):
        return "it is not a hook plugin (it needs name, trigger and an async run(facts, config))"
    if plugin.name != entry_name:
        return f"its name {plugin.name!r} differs from its entry point's name"
    if plugin.trigger not in TRIGGERS:
        return f"its trigger {plugin.trigger!r} is neither {' nor '.join(TRIGGERS)}"
    schema = getattr(plugin, "config_schema", None)
    if schema is not None:
        from jsonschema import Draft202012Validator  # slow to import: only when needed
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(dict(schema))
        except (SchemaError, TypeError, ValueError) as exc:
            return f"its config_schema is not a valid JSON Schema ({exc})"
    return None


@cache
def installed() -> InstalledPlugins:
    """The plugins of the installed packages, loaded once per process."""
    found = InstalledPlugins()
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in found.plugins or entry.name in found.broken:
            found.broken.setdefault(entry.name, "two packages register this name")
            continue
        try:
            plugin = entry.load()
        # Importing a third-party package can raise anything; one broken plugin must not
        # stop the API or a harvest, it must be reported on the hooks that use it.
        except Exception as exc:
            found.broken[entry.name] = f"it cannot be loaded ({type(exc).__name__}: {exc})"
            continue
        problem = _problem(entry.name, plugin)
        if problem:
            found.broken[entry.name] = f"{entry.value}: {problem}"
        else:
            found.plugins[entry.name] = plugin
    return found


def find(name: str) -> HookPlugin:
    """The installed plugin ``name``, or LookupError saying what is installed."""
    plugins = installed()
    if name in plugins.plugins:
        return plugins.plugins[name]
    if name in plugins.broken:
        raise LookupError(f"hook plugin {name!r} is installed but unusable: {plugins.broken[name]}")
    raise LookupError(f"no hook plugin named {name!r} is installed; installed: {plugins.names()}")


def _grants(value: object) -> list[GrantRequest]:
    grants = []
    for item in value if isinstance(value, list | tuple) else [value]:
        if isinstance(item, GrantRequest):
            grants.append(item)
        elif isinstance(item, Mapping) and {"grantee_type", "value"} <= set(item):
            grants.append(GrantRequest(str(item["grantee_type"]), str(item["value"])))
        else:
            raise HookError(f"returned grant {item!r}; expected a GrantRequest")
    return grants


class PluginRunner:
    def __init__(
        self,
        spec: HookSpec,
        label: str,
        plugin: HookPlugin,
        limiter: asyncio.Semaphore,
        workers: int,
    ) -> None:
        self.spec = spec
        self.label = label
        self.plugin = plugin
        self.limiter = limiter
        self.workers = workers

    async def run(self, files: Sequence[FileFacts]) -> Results:
        return await bounded_map(files, self._one, self.workers)

    async def _one(self, facts: FileFacts) -> Effect | HookError | None:
        view = dataclasses.replace(facts, metadata=copy.deepcopy(facts.metadata))
        config = copy.deepcopy(dict(self.spec.config))
        try:
            async with self.limiter:
                result = await self.plugin.run(view, config)
        # A plugin's bug fails its hook on this file (fail_closed decides what follows),
        # never the whole batch.
        except Exception as exc:
            return HookError(f"plugin {self.plugin.name!r} raised {type(exc).__name__}: {exc}")
        try:
            return self._effect(result)
        except HookError as exc:
            return HookError(f"plugin {self.plugin.name!r} {exc}")

    def _effect(self, result: object) -> Effect | None:
        if result is None:
            return None
        if isinstance(result, Mapping):
            try:
                result = PluginResult(**result)
            except TypeError as exc:
                raise HookError(
                    f"returned a mapping PluginResult does not accept ({exc})"
                ) from None
        if not isinstance(result, PluginResult):
            raise HookError(f"returned {type(result).__name__}; expected PluginResult or None")
        metadata = result.metadata
        if metadata is not None and not isinstance(metadata, Mapping):
            raise HookError("returned metadata that is not a mapping")
        grants = _grants(result.grants) if result.grants else []
        pre = self.spec.trigger == PRE_TRANSFER
        if pre and grants:
            raise HookError(
                "returned grants before the transfer; grants need a post_transfer plugin"
            )
        if not pre and (result.skip_reason or result.destination):
            raise HookError(
                "returned a skip or destination after the transfer; only pre_transfer may"
            )
        destination = None
        if result.destination is not None:
            try:
                destination = contained(result.destination)
            except UnsafeDestination as exc:
                raise HookError(f"returned a destination that was refused: {exc}") from None
        return Effect(
            skip_reason=str(result.skip_reason) if result.skip_reason else None,
            destination_path=destination,
            metadata=dict(metadata) if metadata else None,
            grants=tuple(grants),
        )
