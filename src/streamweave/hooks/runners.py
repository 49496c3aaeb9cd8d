"""Turning a HookSpec into the runner that executes it, once per chain.

Whatever is wrong with a stored hook (unknown built-in, plugin no longer installed,
config that no longer validates) becomes a ``BrokenRunner``: the harvest still runs,
each file carries the problem as a failure, and a fail-closed hook still blocks.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

from streamweave.errors import InvalidInput
from streamweave.hooks import plugins
from streamweave.hooks.assignment import AccessAssignment
from streamweave.hooks.builtins import BUILTINS
from streamweave.hooks.effects import BrokenRunner, Runner
from streamweave.hooks.enrichment import MetadataEnrichment
from streamweave.hooks.file_filter import FileFilter
from streamweave.hooks.globs import GlobError
from streamweave.hooks.model import HookSpec
from streamweave.hooks.validation import validate_hook

if TYPE_CHECKING:
    import httpx

BUILTIN_RUNNERS: dict[str, Callable[[HookSpec, str], Runner]] = {
    "file_filter": FileFilter,
    "metadata_enrichment": MetadataEnrichment,
    "access_assignment": AccessAssignment,
}


def label(spec: HookSpec) -> str:
    """How skip rules and failures name a hook: kind, name and what it runs."""
    if spec.implementation == "builtin":
        builtin = BUILTINS.get(spec.target)
        kind = builtin.display_name if builtin else "Built-in hook"
        return f"{kind} '{spec.name}' ({spec.target})"
    if spec.implementation == "http_webhook":
        return f"Webhook '{spec.name}' (http_webhook)"
    if spec.implementation == "plugin":
        return f"Plugin '{spec.name}' ({spec.target})"
    return f"Hook '{spec.name}' ({spec.implementation})"


def compile_hook(
    spec: HookSpec,
    *,
    client: Callable[[], httpx.AsyncClient],
    limiter: asyncio.Semaphore,
    workers: int,
) -> Runner:
    name = label(spec)
    try:
        # The API validated the config when it was stored; checking again here catches
        # rows written before a rule tightened, or a plugin uninstalled since.
        validate_hook(spec.implementation, spec.trigger, spec.target, dict(spec.config))
        if spec.implementation == "builtin":
            return BUILTIN_RUNNERS[spec.target](spec, name)
        if spec.implementation == "http_webhook":
            # Here, not at the top: httpx is a tenth of a second of a harvest's start-up,
            # and most chains have no webhook.
            from streamweave.hooks.webhook import Webhook

            return Webhook(spec, name, client, limiter, workers)
        plugin = plugins.find(spec.target)
        return plugins.PluginRunner(spec, name, plugin, limiter, workers)
    except (InvalidInput, LookupError, GlobError, re.error) as exc:
        return BrokenRunner(spec, name, f"the hook cannot run as configured: {exc}")
