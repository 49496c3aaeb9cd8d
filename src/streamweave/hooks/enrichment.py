"""The metadata_enrichment built-in (post-transfer): regex rules and file extractors.

Rules run in order over the file name or the path relative to the instrument root;
each match's named groups become metadata keys (a later rule overwrites an earlier
one's key). Extractors (``hooks.extractors``) read the verified local copy of the files
they understand; where there is no local copy (remote storage) they are skipped, which
is not a failure. The hook's metadata is applied to the file as a whole or, if any
extractor fails on it, not at all.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from streamweave.hooks.effects import Effect, HookError, Results
from streamweave.hooks.extractors import EXTRACTORS, ExtractionError, Extractor
from streamweave.hooks.globs import relative
from streamweave.hooks.model import FileFacts, HookSpec

# (file index, extractor, local copy, file name)
_Read = tuple[int, Extractor, Path, str]


def _read_all(reads: list[_Read]) -> list[tuple[int, dict[str, Any] | HookError]]:
    done: list[tuple[int, dict[str, Any] | HookError]] = []
    for index, extractor, path, filename in reads:
        try:
            done.append((index, extractor.extract(path, filename)))
        except ExtractionError as exc:
            done.append((index, HookError(f"{extractor.name}: {exc}")))
    return done


class MetadataEnrichment:
    def __init__(self, spec: HookSpec, label: str) -> None:
        self.spec = spec
        self.label = label
        self.rules = [
            (re.compile(rule["pattern"]), rule.get("source", "filename"))
            for rule in spec.config.get("rules") or []
        ]
        self.extractors = [EXTRACTORS[name] for name in spec.config.get("extractors") or []]

    async def run(self, files: Sequence[FileFacts]) -> Results:
        found: list[dict[str, Any]] = []
        reads: list[_Read] = []
        rules, extractors = self.rules, self.extractors
        for index, facts in enumerate(files):
            path = relative(facts.source_path)
            filename = path.rpartition("/")[2]
            metadata: dict[str, Any] = {}
            for regex, source in rules:
                match = regex.search(filename if source == "filename" else path)
                if match:
                    for key, value in match.groupdict().items():
                        if value is not None:
                            metadata[key] = value
            found.append(metadata)
            if extractors and facts.local_copy:
                reads.extend(
                    (index, extractor, Path(facts.local_copy), filename)
                    for extractor in extractors
                    if extractor.applies(filename)
                )
        failed: dict[int, list[str]] = {}
        if reads:
            # Disk reads off the event loop, one thread hop per batch, not per file.
            for index, outcome in await asyncio.to_thread(_read_all, reads):
                if isinstance(outcome, HookError):
                    failed.setdefault(index, []).append(str(outcome))
                else:
                    found[index].update(outcome)
        results: Results = [Effect(metadata=metadata) if metadata else None for metadata in found]
        for index, messages in failed.items():
            results[index] = HookError("; ".join(messages))
        return results
