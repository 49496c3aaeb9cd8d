"""Whether a hook configuration can run: the API checks it before storing, the chain
again before running (a plugin may have been uninstalled since)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from streamweave.errors import InvalidInput
from streamweave.hooks import plugins
from streamweave.hooks.builtins import check_config, get_builtin
from streamweave.hooks.globs import GlobError, GlobSet
from streamweave.hooks.paths import UnsafeDestination, contained

IMPLEMENTATIONS = ("builtin", "http_webhook", "plugin")


def _check_file_filter(config: Mapping[str, Any]) -> None:
    """What the JSON Schema cannot say: patterns compile, redirects stay inside."""
    for index, rule in enumerate(config.get("redirect_rules") or []):
        try:
            contained(rule["destination"])
        except UnsafeDestination as exc:
            raise InvalidInput(
                f"config for built-in hook 'file_filter' is invalid: "
                f"redirect_rules.{index}.destination: {exc}"
            ) from None
    lists = {
        "include_patterns": config.get("include_patterns") or [],
        "exclude_patterns": config.get("exclude_patterns") or [],
        "redirect_rules": [rule["pattern"] for rule in config.get("redirect_rules") or []],
    }
    for field, patterns in lists.items():
        try:
            GlobSet(patterns)
        except GlobError as exc:
            raise InvalidInput(
                f"config for built-in hook 'file_filter' is invalid: {field}: {exc}"
            ) from None


def _check_trigger(what: str, runs_at: str, trigger: str | None) -> None:
    if trigger != runs_at:
        raise InvalidInput(f"trigger: {what} runs at {runs_at!r}, not {trigger!r}")


def validate_hook(
    implementation: str | None, trigger: str | None, target: str | None, config: dict[str, Any]
) -> dict[str, Any]:
    """The config to store for this hook, or InvalidInput naming the field to fix.

    ``target`` is ``builtin_name`` for built-ins and plugins, ``webhook_url`` for
    webhooks.
    """
    if implementation == "builtin":
        builtin = get_builtin(target or "")
        _check_trigger(f"built-in hook {builtin.name!r}", builtin.trigger, trigger)
        config = builtin.validate(config)
        if builtin.name == "file_filter":
            _check_file_filter(config)
        return config
    if implementation == "http_webhook":
        if not target or urlsplit(target).scheme not in ("http", "https"):
            raise InvalidInput("webhook_url: an http_webhook needs an http:// or https:// URL")
        from streamweave.hooks import webhook  # and httpx with it: only for webhooks

        return check_config(webhook.CONFIG_SCHEMA, config, "http_webhook")
    if implementation == "plugin":
        try:
            plugin = plugins.find(target or "")
        except LookupError as exc:
            raise InvalidInput(f"builtin_name: {exc}") from None
        _check_trigger(f"plugin {plugin.name!r}", plugin.trigger, trigger)
        schema = plugins.config_schema(plugin)
        return check_config(schema, config, f"plugin {plugin.name!r}") if schema else config
    if implementation == "python_script":
        raise InvalidInput(
            "implementation: 'python_script' (arbitrary script paths) is not supported; "
            "use a built-in hook, an http_webhook or an installed plugin"
        )
    raise InvalidInput(
        f"implementation: {implementation!r} is not one of {', '.join(IMPLEMENTATIONS)}"
    )
