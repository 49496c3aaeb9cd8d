"""Finding adapters: built-ins and any package's, through an entry-point group."""

from __future__ import annotations

from functools import cache
from importlib import import_module
from importlib.metadata import entry_points

from streamweave.transfers.base import Adapter, Location
from streamweave.transfers.errors import TransferError

ENTRY_POINT_GROUP = "streamweave.transfer_adapters"
# Built-ins, in order of preference, imported when first needed: a harvest between local
# paths never loads rclone's modules.
BUILTINS = {
    "native": ("streamweave.transfers.native", "NativeAdapter"),
    "rclone": ("streamweave.transfers.streaming", "RcloneAdapter"),
}


@cache
def builtin(name: str) -> Adapter:
    module, attribute = BUILTINS[name]
    adapter: Adapter = getattr(import_module(module), attribute)()
    return adapter


@cache
def adapters() -> dict[str, Adapter]:
    """Every installed adapter: the built-ins and those of the entry-point group."""
    found: dict[str, Adapter] = {name: builtin(name) for name in BUILTINS}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in found:
            found[entry.name] = entry.load()()
    return found


def get_adapter(name: str) -> Adapter:
    if name in BUILTINS:
        return builtin(name)
    try:
        return adapters()[name]
    except KeyError:
        raise TransferError(
            f"no transfer adapter named {name!r} is installed; "
            f"available: {', '.join(sorted(adapters()))}"
        ) from None


def adapter_for(source: Location, destination: Location, preferred: str | None = None) -> Adapter:
    """The adapter asked for, else the fastest built-in for the pair (bench/transfers.py):
    native between local paths, rclone whenever a remote is involved."""
    if preferred and (preferred in BUILTINS or preferred in adapters()):
        chosen = get_adapter(preferred)
        if chosen.supports(source, destination):
            return chosen
    for name in BUILTINS:
        if builtin(name).supports(source, destination):
            return builtin(name)
    raise TransferError(f"no adapter can copy from {source.kind} to {destination.kind}")


def adapter_for_location(location: Location) -> Adapter:
    """The adapter that lists, tests and deletes at ``location`` on its own."""
    return adapter_for(location, location)
