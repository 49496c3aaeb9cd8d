"""Hooks that run around each transfer: filter, redirect, enrich, grant, notify.

Domain core: no FastAPI, Prefect or database here. The harvest builds ``HookSpec``s
(``services.hook_specs``), runs a ``HookChain`` over batches of ``FileFacts`` and gets
one ``PreOutcome`` or ``PostOutcome`` per file.
"""

from streamweave.hooks.chain import HookChain
from streamweave.hooks.model import (
    FileFacts,
    GrantRequest,
    HookFailure,
    HookSpec,
    PostOutcome,
    PreOutcome,
    no_secret,
)
from streamweave.hooks.plugins import HookPlugin, Plugin, PluginResult

__all__ = [
    "FileFacts",
    "GrantRequest",
    "HookChain",
    "HookFailure",
    "HookPlugin",
    "HookSpec",
    "Plugin",
    "PluginResult",
    "PostOutcome",
    "PreOutcome",
    "no_secret",
]
