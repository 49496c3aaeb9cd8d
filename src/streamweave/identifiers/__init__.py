"""Persistent identifiers: ARK minting and parsing (``ark``, pure), and the database
side (``service``: collision-free bulk minting, resolution). Neither imports FastAPI."""

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
from streamweave.identifiers.service import mint_unique

__all__ = [
    "Ark",
    "ArkError",
    "ArkNamespace",
    "CheckCharacterMismatch",
    "MalformedArk",
    "MintingExhausted",
    "check_char",
    "mint",
    "mint_unique",
    "parse",
]
