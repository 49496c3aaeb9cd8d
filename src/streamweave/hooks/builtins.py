"""The built-in hooks and the JSON Schema each one's config must satisfy."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from streamweave.errors import InvalidInput

_PATTERN_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}, "default": []}
_RELATIVE_PATH = {"type": "string", "minLength": 1, "not": {"pattern": r"(^/)|(^|/)\.\.(/|$)"}}


@dataclass(frozen=True)
class BuiltinHook:
    name: str
    display_name: str
    description: str
    trigger: str
    config_schema: dict[str, Any]

    def validate(self, config: dict[str, Any]) -> dict[str, Any]:
        check_config(self.config_schema, config, f"built-in hook {self.name!r}")
        _check_regexes(self.name, config)
        return config


def check_config(schema: dict[str, Any], config: dict[str, Any], what: str) -> dict[str, Any]:
    """``config`` if it satisfies ``schema``, else InvalidInput listing every problem."""
    # Imported here: jsonschema is slow to import, and a harvest without hooks (or a
    # command that never validates one) does not need it.
    from jsonschema import Draft202012Validator

    errors = sorted(Draft202012Validator(schema).iter_errors(config), key=lambda e: e.path)
    if errors:
        details = "; ".join(
            f"{'.'.join(str(p) for p in e.absolute_path) or 'config'}: {e.message}" for e in errors
        )
        raise InvalidInput(f"config for {what} is invalid: {details}")
    return config


def _check_regexes(name: str, config: dict[str, Any]) -> None:
    for index, rule in enumerate(config.get("rules", [])):
        try:
            re.compile(rule["pattern"])
        except re.error as exc:
            raise InvalidInput(
                f"config for built-in hook {name!r} is invalid: rules.{index}.pattern is not a "
                f"valid regular expression ({exc})"
            ) from None


BUILTINS: dict[str, BuiltinHook] = {
    hook.name: hook
    for hook in (
        BuiltinHook(
            name="file_filter",
            display_name="File filter",
            description=(
                "Skip files by glob pattern or size, and redirect matching files to another "
                "folder inside the storage location."
            ),
            trigger="pre_transfer",
            config_schema={
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "exclude_patterns": _PATTERN_LIST,
                    "include_patterns": _PATTERN_LIST,
                    "min_size_bytes": {"type": "integer", "minimum": 0},
                    "redirect_rules": {
                        "type": "array",
                        "default": [],
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["pattern", "destination"],
                            "properties": {
                                "pattern": {"type": "string", "minLength": 1},
                                "destination": _RELATIVE_PATH,
                            },
                        },
                    },
                },
            },
        ),
        BuiltinHook(
            name="metadata_enrichment",
            display_name="Metadata enrichment",
            description=(
                "Extract metadata from the file name or path with regular expressions "
                "(named groups become metadata keys)."
            ),
            trigger="post_transfer",
            config_schema={
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "rules": {
                        "type": "array",
                        "default": [],
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["pattern"],
                            "properties": {
                                "pattern": {"type": "string", "minLength": 1},
                                "source": {"enum": ["filename", "path"], "default": "filename"},
                            },
                        },
                    },
                    "extractors": {
                        "type": "array",
                        "default": [],
                        "items": {"enum": ["bruker_acqus", "tiff_tags"]},
                    },
                },
            },
        ),
        BuiltinHook(
            name="access_assignment",
            display_name="Access assignment",
            description=(
                "Grant users, groups or projects access to each file, from literal values or "
                "from metadata produced by earlier hooks (users by e-mail, groups and projects "
                "by name)."
            ),
            trigger="post_transfer",
            config_schema={
                "type": "object",
                "additionalProperties": False,
                "properties": {
                    "grants": {
                        "type": "array",
                        "default": [],
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["grantee_type", "match_field"],
                            "properties": {
                                "grantee_type": {"enum": ["user", "group", "project"]},
                                "match_field": {"type": "string", "minLength": 1},
                                "source": {"enum": ["metadata", "literal"], "default": "metadata"},
                            },
                        },
                    }
                },
            },
        ),
    )
}


def get_builtin(name: str) -> BuiltinHook:
    try:
        return BUILTINS[name]
    except KeyError:
        raise InvalidInput(
            f"builtin_name: unknown built-in hook {name!r}; "
            f"available: {', '.join(sorted(BUILTINS))}"
        ) from None
