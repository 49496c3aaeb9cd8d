"""Persistent identifiers: ARK minting and parsing (``ark``, pure), and the database
side (``service``: collision-free bulk minting, resolution). Neither imports FastAPI.

Only the pure half is imported here: configuration validates ARK settings through it,
and every command starts by loading the configuration, so this package must not pull
in the database layer."""

from streamweave.identifiers.ark import (
    Ark,
    ArkError,
    ArkNamespace,
    CheckCharacterMismatch,
    MalformedArk,
    MintingExhausted,
    check_char,
    mint,
    parse,
)

__all__ = [
    "Ark",
    "ArkError",
    "ArkNamespace",
    "CheckCharacterMismatch",
    "MalformedArk",
    "MintingExhausted",
    "check_char",
    "mint",
    "parse",
]
