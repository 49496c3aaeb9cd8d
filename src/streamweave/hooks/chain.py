"""The hooks of one instrument, run in order over batches of files.

Order: priority (lower first), then name, then id, so equal priorities still run in
a stable order. Each hook runs over the whole batch before the next one starts
(webhooks and plugins then work on many files at once), and each file's metadata and
destination flow from one hook to the next.

What stops a file's chain: a pre hook's skip (the skip rule names the hook) and a
failure of a fail-closed hook (blocking). A failure of a fail-open hook is recorded
and the file goes on unchanged by that hook: a hook's answer for a file is applied
whole or not at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Callable, Iterable, Sequence
from types import TracebackType
from typing import TYPE_CHECKING

from streamweave.hooks.effects import Effect, HookError, Runner
from streamweave.hooks.model import (
    POST_TRANSFER,
    PRE_TRANSFER,
    FileFacts,
    HookFailure,
    HookSpec,
    PostOutcome,
    PreOutcome,
)
from streamweave.hooks.paths import UnsafeDestination, contained
from streamweave.hooks.runners import compile_hook

if TYPE_CHECKING:
    import httpx

# Part of the pre-transfer signature: raise it when a built-in's decisions change for
# the same config (e.g. the glob rules), so files skipped before are looked at again.
RULES_VERSION = 1
USER_AGENT = "StreamWeave hooks"

# Applies one hook's result to one file; True when that file's chain stops there.
_Apply = Callable[[Runner, int, Effect | HookError | None], bool]


def run_order(hooks: Iterable[HookSpec]) -> list[HookSpec]:
    return sorted(hooks, key=lambda spec: (spec.priority, spec.name, spec.id))


def signature(hooks: Iterable[HookSpec]) -> str:
    """A digest of what decides pre-transfer outcomes. A webhook's or plugin's own logic
    is outside it: their changes are not seen."""
    material = [
        RULES_VERSION,
        [
            [
                spec.id,
                spec.implementation,
                spec.target,
                dict(spec.config),
                spec.priority,
                spec.fail_closed,
            ]
            for spec in run_order(hooks)
        ],
    ]
    text = json.dumps(
        material, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(text.encode()).hexdigest()


def _working_copy(facts: FileFacts) -> FileFacts:
    # The caller's objects stay as they were; hooks see (and the chain changes) a copy.
    # Spelled out: dataclasses.replace costs several times more, per file of a batch.
    return FileFacts(
        facts.source_path,
        facts.size,
        facts.mtime,
        facts.destination_path,
        dict(facts.metadata),
        facts.instrument_id,
        facts.instrument_name,
        facts.persistent_id,
        facts.checksum,
        facts.checksum_algorithm,
        facts.local_copy,
    )


def _failure(spec: HookSpec, message: str) -> HookFailure:
    return HookFailure(hook=spec.name, message=message, blocking=spec.fail_closed)


class HookChain:
    def __init__(
        self,
        hooks: Sequence[HookSpec],
        *,
        client: httpx.AsyncClient | None = None,
        concurrency: int = 16,
    ) -> None:
        if concurrency < 1:
            raise ValueError(f"concurrency must be at least 1, not {concurrency}")
        self._client = client
        self._owns_client = client is None
        limiter = asyncio.Semaphore(concurrency)
        ordered = run_order(hooks)
        pre = [spec for spec in ordered if spec.trigger == PRE_TRANSFER]
        post = [spec for spec in ordered if spec.trigger == POST_TRANSFER]
        self._pre_signature = signature(pre)

        def build(spec: HookSpec) -> Runner:
            return compile_hook(spec, client=self._http, limiter=limiter, workers=concurrency)

        self._pre: list[Runner] = [build(spec) for spec in pre]
        self._post: list[Runner] = [build(spec) for spec in post]

    @property
    def pre_signature(self) -> str:
        return self._pre_signature

    @property
    def has_pre(self) -> bool:
        return bool(self._pre)

    @property
    def has_post(self) -> bool:
        return bool(self._post)

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            import httpx  # only a chain with a webhook gets here: most harvests never do

            self._client = httpx.AsyncClient(
                follow_redirects=False, headers={"User-Agent": USER_AGENT}
            )
        return self._client

    async def aclose(self) -> None:
        if self._owns_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def __aenter__(self) -> HookChain:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def _run(self, runners: list[Runner], files: list[FileFacts], apply: _Apply) -> None:
        active = list(range(len(files)))
        for runner in runners:
            if not active:
                return
            results = await runner.run([files[i] for i in active])
            active = [
                index
                for index, result in zip(active, results, strict=True)
                if not apply(runner, index, result)
            ]

    async def run_pre(self, files: Sequence[FileFacts]) -> list[PreOutcome]:
        """One outcome per file, in the order given."""
        if not self._pre:  # the usual case: nothing to copy facts for
            return [PreOutcome(None, f.destination_path, dict(f.metadata), []) for f in files]
        work = [_working_copy(facts) for facts in files]
        outcomes = [PreOutcome(None, facts.destination_path, facts.metadata, []) for facts in work]

        def apply(runner: Runner, index: int, result: Effect | HookError | None) -> bool:
            if result is None:
                return False
            outcome, facts, spec = outcomes[index], work[index], runner.spec
            if isinstance(result, HookError):
                outcome.failures.append(_failure(spec, str(result)))
                return spec.fail_closed
            destination = facts.destination_path
            if result.destination_path is not None:
                try:
                    destination = contained(result.destination_path)
                except UnsafeDestination as exc:
                    outcome.failures.append(_failure(spec, f"destination refused: {exc}"))
                    return spec.fail_closed
            if result.metadata:
                facts.metadata.update(result.metadata)
            facts.destination_path = outcome.destination_path = destination
            if result.skip_reason is not None:
                outcome.skip_rule = f"{runner.label}: {result.skip_reason}"
                return True
            return False

        await self._run(self._pre, work, apply)
        return outcomes

    async def run_post(self, files: Sequence[FileFacts]) -> list[PostOutcome]:
        """One outcome per file, in the order given; grants without duplicates."""
        if not self._post:
            return [PostOutcome(dict(f.metadata), [], []) for f in files]
        work = [_working_copy(facts) for facts in files]
        outcomes = [PostOutcome(facts.metadata, [], []) for facts in work]

        def apply(runner: Runner, index: int, result: Effect | HookError | None) -> bool:
            if result is None:
                return False
            outcome, spec = outcomes[index], runner.spec
            if isinstance(result, HookError):
                outcome.failures.append(_failure(spec, str(result)))
                return spec.fail_closed
            if result.metadata:
                work[index].metadata.update(result.metadata)
            outcome.grants.extend(result.grants)
            return False

        await self._run(self._post, work, apply)
        for outcome in outcomes:
            if len(outcome.grants) > 1:
                outcome.grants = list(dict.fromkeys(outcome.grants))
        return outcomes
