"""Secrets at rest: Fernet with several keys, the newest encrypting, all decrypting."""

from __future__ import annotations

import json
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from streamweave.errors import ConfigurationError

MASK = "****"


class SecretBox:
    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise ConfigurationError("no encryption key configured (STREAMWEAVE_ENCRYPTION_KEY)")
        try:
            self._fernet = MultiFernet([Fernet(key.encode()) for key in keys])
        except ValueError as exc:
            raise ConfigurationError(
                "STREAMWEAVE_ENCRYPTION_KEY holds an invalid Fernet key; "
                "generate one with: streamweave keys generate"
            ) from exc

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as exc:
            raise _undecryptable() from exc

    def rotate(self, token: str) -> str:
        """Re-encrypt ``token`` under the newest key."""
        try:
            return self._fernet.rotate(token.encode()).decode()
        except InvalidToken as exc:
            raise _undecryptable() from exc

    def encrypt_json(self, values: dict[str, Any]) -> str | None:
        return self.encrypt(json.dumps(values, sort_keys=True)) if values else None

    def decrypt_json(self, token: str | None) -> dict[str, Any]:
        if not token:
            return {}
        data: dict[str, Any] = json.loads(self.decrypt(token))
        return data


def _undecryptable() -> ConfigurationError:
    return ConfigurationError(
        "a stored secret cannot be decrypted with the configured keys; "
        "was an old key removed from STREAMWEAVE_ENCRYPTION_KEY before `streamweave keys "
        "rotate` re-encrypted everything?"
    )


def generate_key() -> str:
    return Fernet.generate_key().decode()
