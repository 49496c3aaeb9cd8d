"""The http_webhook hook: POST each file's facts to a URL, signed, with retries.

The request body is JSON ``{"event", "hook": {"id", "name"}, "file": {...facts}}``
(the local copy's path is not sent). With a secret, ``X-StreamWeave-Signature`` is
``sha256=`` + hex HMAC-SHA256(secret, timestamp + "." + body), the timestamp being
``X-StreamWeave-Timestamp`` (Unix seconds): the receiver recomputes it and rejects old
timestamps, which stops replays.

Connect errors, timeouts and 5xx answers are retried ``retries`` times with exponential
backoff; 3xx and 4xx are not (the receiver said no, asking again will not change it).

A pre-transfer receiver answers ``{"action": "transfer"}`` (or nothing),
``{"action": "skip", "reason": "..."}`` or ``{"action": "redirect", "destination":
"path/of/the/file"}``, the destination being the file's whole new path relative to the
storage root (``hooks.paths`` rules). Any receiver may add ``{"metadata": {...}}``,
merged into the file's metadata. Answers that are not JSON count as "nothing to change".

The secret is never logged and never part of an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from streamweave.errors import ConfigurationError
from streamweave.hooks.concurrency import bounded_map
from streamweave.hooks.effects import Effect, HookError, Results
from streamweave.hooks.model import PRE_TRANSFER, FileFacts, HookSpec
from streamweave.hooks.paths import UnsafeDestination, contained

SIGNATURE_HEADER = "X-StreamWeave-Signature"
TIMESTAMP_HEADER = "X-StreamWeave-Timestamp"
EVENT_HEADER = "X-StreamWeave-Event"
BACKOFF_SECONDS = 0.5  # first retry's wait; doubles per retry
MAX_BACKOFF_SECONDS = 30.0
MAX_ANSWER_BYTES = 1 << 20
MAX_REASON_CHARS = 500

CONFIG_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "timeout_seconds": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 120,
            "default": 10,
            "description": "Limit for one attempt (connect, send, answer), in seconds.",
        },
        "retries": {
            "type": "integer",
            "minimum": 0,
            "maximum": 10,
            "default": 2,
            "description": "Further attempts after a connect error, a timeout or a 5xx answer.",
        },
    },
}


def sign(secret: str, timestamp: str, body: bytes) -> str:
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def shown_url(url: str) -> str:
    """The URL as error messages show it: no credentials, query or fragment (tokens live
    there)."""
    try:
        parts = urlsplit(url)
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "(an invalid URL)"
    return f"{parts.scheme}://{parts.hostname or ''}{port}{parts.path}"


def facts_json(facts: FileFacts) -> dict[str, Any]:
    return {
        "source_path": facts.source_path,
        "size": facts.size,
        "mtime": facts.mtime.isoformat() if facts.mtime else None,
        "destination_path": facts.destination_path,
        "metadata": facts.metadata,
        "instrument_id": facts.instrument_id,
        "instrument_name": facts.instrument_name,
        "persistent_id": facts.persistent_id,
        "checksum": facts.checksum,
        "checksum_algorithm": facts.checksum_algorithm,
    }


def _describe(exc: Exception) -> str:
    return str(exc) or type(exc).__name__


class _Retry(Exception):
    """This attempt failed in a way another attempt may not."""


class Webhook:
    def __init__(
        self,
        spec: HookSpec,
        label: str,
        client: Callable[[], httpx.AsyncClient],
        limiter: asyncio.Semaphore,
        workers: int,
    ) -> None:
        self.spec = spec
        self.label = label
        self.client = client
        self.limiter = limiter
        self.workers = workers
        self.timeout = float(spec.config.get("timeout_seconds", 10))
        self.retries = int(spec.config.get("retries", 2))
        self.where = f"webhook {shown_url(spec.target)}"

    async def run(self, files: Sequence[FileFacts]) -> Results:
        try:
            secret = self.spec.secret()  # decrypted once per batch, held only here
        except ConfigurationError as exc:
            return [HookError(f"{self.where}: its secret cannot be used: {exc}")] * len(files)
        client = self.client()

        async def deliver(facts: FileFacts) -> Effect | HookError | None:
            result = await self._deliver(client, secret, facts)
            if isinstance(result, HookError) and secret and secret in str(result):
                return HookError(str(result).replace(secret, "****"))
            return result

        return await bounded_map(files, deliver, self.workers)

    def _body(self, facts: FileFacts) -> bytes:
        payload = {
            "event": self.spec.trigger,
            "hook": {"id": self.spec.id, "name": self.spec.name},
            "file": facts_json(facts),
        }
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), default=str).encode()

    async def _deliver(
        self, client: httpx.AsyncClient, secret: str | None, facts: FileFacts
    ) -> Effect | HookError | None:
        body = self._body(facts)
        attempts = self.retries + 1
        problem = ""
        for attempt in range(attempts):
            if attempt:
                await asyncio.sleep(min(BACKOFF_SECONDS * 2 ** (attempt - 1), MAX_BACKOFF_SECONDS))
            try:
                status, content_type, answer = await self._attempt(client, secret, body)
            except _Retry as exc:
                problem = str(exc)
                continue
            except HookError as exc:
                return exc
            if status >= 500:
                problem = f"answered {status}"
                continue
            if status >= 300:
                excerpt = answer[:200].decode("utf-8", errors="replace").strip()
                return HookError(
                    f"{self.where} answered {status}"
                    + (f": {excerpt}" if excerpt else "")
                    + "; not retried (the receiver refused the request)"
                )
            return self._answer(content_type, answer)
        plural = "s" if attempts > 1 else ""
        return HookError(f"{self.where} {problem} ({attempts} attempt{plural}); is it running?")

    async def _attempt(
        self, client: httpx.AsyncClient, secret: str | None, body: bytes
    ) -> tuple[int, str, bytes]:
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            EVENT_HEADER: self.spec.trigger,
        }
        if secret:
            headers[SIGNATURE_HEADER] = sign(secret, timestamp, body)
        try:
            async with self.limiter, asyncio.timeout(self.timeout):
                return await self._post(client, body, headers)
        except (TimeoutError, httpx.TimeoutException):
            raise _Retry(f"timed out after {self.timeout:g} s") from None
        except httpx.NetworkError as exc:
            raise _Retry(f"could not be reached ({_describe(exc)})") from None
        except httpx.HTTPError as exc:
            raise HookError(f"{self.where}: request failed ({_describe(exc)})") from None

    async def _post(
        self, client: httpx.AsyncClient, body: bytes, headers: dict[str, str]
    ) -> tuple[int, str, bytes]:
        async with client.stream(
            "POST",
            self.spec.target,
            content=body,
            headers=headers,
            timeout=self.timeout,
            follow_redirects=False,  # a redirect would re-send the signed body elsewhere
        ) as response:
            answer = bytearray()
            async for chunk in response.aiter_bytes():
                answer += chunk
                if len(answer) > MAX_ANSWER_BYTES:
                    raise HookError(f"{self.where} answered more than {MAX_ANSWER_BYTES} bytes")
            return response.status_code, response.headers.get("content-type", ""), bytes(answer)

    def _answer(self, content_type: str, data: bytes) -> Effect | HookError | None:
        if not data.strip() or "json" not in content_type.lower():
            return None
        try:
            answer = json.loads(data)
        except ValueError:
            return HookError(f"{self.where} answered JSON that cannot be parsed")
        if not isinstance(answer, dict):
            return HookError(f"{self.where} answered {type(answer).__name__}; expected an object")
        metadata = answer.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            return HookError(f"{self.where} answered 'metadata' that is not an object")
        if self.spec.trigger != PRE_TRANSFER:
            return Effect(metadata=metadata) if metadata else None
        return self._decision(answer, metadata)

    def _decision(
        self, answer: dict[str, Any], metadata: dict[str, Any] | None
    ) -> Effect | HookError | None:
        action = answer.get("action") or "transfer"
        if action == "transfer":
            return Effect(metadata=metadata) if metadata else None
        if action == "skip":
            reason = str(answer.get("reason") or "").strip()[:MAX_REASON_CHARS]
            return Effect(skip_reason=reason or "the webhook said skip", metadata=metadata)
        if action == "redirect":
            destination = answer.get("destination")
            if not isinstance(destination, str) or not destination:
                return HookError(f"{self.where} answered redirect without a 'destination' path")
            try:
                return Effect(destination_path=contained(destination), metadata=metadata)
            except UnsafeDestination as exc:
                return HookError(f"{self.where} answered a redirect that was refused: {exc}")
        return HookError(
            f"{self.where} answered action {str(action)[:50]!r}; "
            "expected 'transfer', 'skip' or 'redirect'"
        )
