"""The access_assignment built-in (post-transfer): grants from literals or metadata.

A grant with ``source: literal`` grants ``match_field`` itself (an e-mail, a name or a
UUID). With ``source: metadata`` (the default) ``match_field`` names a metadata key
set by the instrument or an earlier hook: a text value gives one grant, a list one
grant per item, and a missing or empty key none (not a failure: most files of a
mixed folder carry no owner). The harvest resolves the values in bulk.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from streamweave.hooks.effects import Effect, HookError, Results
from streamweave.hooks.model import FileFacts, GrantRequest, HookSpec


def _values(key: str, value: Any) -> list[str]:
    items = value if isinstance(value, list | tuple) else [value]
    values = []
    for item in items:
        if item is None:
            continue
        if isinstance(item, bool) or not isinstance(item, str | int):
            raise HookError(
                f"metadata key {key!r} holds {type(item).__name__} {item!r}; a grant needs "
                "a user's e-mail, a group's or project's name or an id"
            )
        text = str(item).strip()
        if text:
            values.append(text)
    return values


class AccessAssignment:
    def __init__(self, spec: HookSpec, label: str) -> None:
        self.spec = spec
        self.label = label
        self.grants = [
            (grant["grantee_type"], grant["match_field"], grant.get("source", "metadata"))
            for grant in spec.config.get("grants") or []
        ]

    async def run(self, files: Sequence[FileFacts]) -> Results:
        return [self.decide(facts) for facts in files]

    def decide(self, facts: FileFacts) -> Effect | HookError | None:
        grants: dict[GrantRequest, None] = {}  # ordered and without duplicates
        for grantee_type, field, source in self.grants:
            if source == "literal":
                grants[GrantRequest(grantee_type, field)] = None
                continue
            try:
                values = _values(field, facts.metadata.get(field))
            except HookError as exc:
                return exc
            for value in values:
                grants[GrantRequest(grantee_type, value)] = None
        return Effect(grants=tuple(grants)) if grants else None
