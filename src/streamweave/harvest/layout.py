"""Where harvested files go in a storage location."""

from __future__ import annotations

import uuid


def destination_folder(name: str, instrument_id: uuid.UUID) -> str:
    """Each instrument's files go under its own folder of the storage location."""
    folder = name.replace("/", "_").replace("\\", "_").strip().strip(".")
    return folder or str(instrument_id)


def default_destination(name: str, instrument_id: uuid.UUID, source_path: str) -> str:
    """Where a file goes before pre-transfer hooks redirect it."""
    return f"{destination_folder(name, instrument_id)}/{source_path.lstrip('/')}"


def versioned_name(path: str, version: int) -> str:
    """Where a superseded version stays: GNU ``cp --backup=numbered`` style."""
    return f"{path}.~{version}~"
