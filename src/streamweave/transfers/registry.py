"""Finding adapters: built-ins and any package's, through an entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from streamweave.transfers.base import Adapter, Location
from streamweave.transfers.errors import TransferError
from streamweave.transfers.native import NativeAdapter
from streamweave.transfers.streaming import RcloneAdapter

ENTRY_POINT_GROUP = "streamweave.transfer_adapters"


@cache
def adapters() -> dict[str, Adapter]:
    found: dict[str, Adapter] = {"native": NativeAdapter(), "rclone": RcloneAdapter()}
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name not in found:
            found[entry.name] = entry.load()()
    return found


def get_adapter(name: str) -> Adapter:
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
    if (
        preferred
        and preferred in adapters()
        and adapters()[preferred].supports(source, destination)
    ):
        return adapters()[preferred]
    for name in ("native", "rclone"):
        if adapters()[name].supports(source, destination):
            return adapters()[name]
    raise TransferError(f"no adapter can copy from {source.kind} to {destination.kind}")


def adapter_for_location(location: Location) -> Adapter:
    """The adapter that lists, tests and deletes at ``location`` on its own."""
    return adapter_for(location, location)
