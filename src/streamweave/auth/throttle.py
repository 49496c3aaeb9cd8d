"""Slow down password guessing: per account and per client address."""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


@dataclass
class LoginThrottle:
    """After ``max_failures`` failed logins for a key, the key is locked for
    ``lockout_seconds``, doubling with each further failure (capped at an hour).

    Kept in the process: a multi-process API gives each process its own budget, which
    still bounds guessing to a small multiple of the limit.
    """

    max_failures: int = 5
    lockout_seconds: int = 60
    address_factor: int = 4
    _state: dict[str, _Failures] = field(default_factory=dict)

    def retry_after(self, *keys: str) -> int:
        now = time.monotonic()
        wait = max((self._state[k].locked_until - now for k in keys if k in self._state), default=0)
        return int(wait) + 1 if wait > 0 else 0

    def failed(self, account: str, address: str) -> None:
        self._fail(f"account:{account.lower()}", self.max_failures)
        self._fail(f"address:{address}", self.max_failures * self.address_factor)

    def _fail(self, key: str, limit: int) -> None:
        state = self._state.setdefault(key, _Failures())
        state.count += 1
        if state.count >= limit:
            excess = state.count - limit
            state.locked_until = time.monotonic() + min(self.lockout_seconds * 2**excess, 3600)

    def succeeded(self, account: str) -> None:
        self._state.pop(f"account:{account.lower()}", None)

    @staticmethod
    def keys(account: str, address: str) -> tuple[str, str]:
        return f"account:{account.lower()}", f"address:{address}"
