"""The hook API: fail_closed, webhook and plugin configs, the plugin list, the dry run,
and the specs the harvest gets (on SQLite and PostgreSQL)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from streamweave.db.models import HookConfig
from streamweave.harvest.layout import default_destination, destination_folder
from streamweave.hooks import webhook as webhook_module
from streamweave.services.hook_specs import hook_specs_for
from tests.api.conftest import (
    Json,
    Refuse,
    builtin_hook,
    created,
    instrument,
    redirect_to,
    webhook,
)
from tests.hooks import sample_plugins
from tests.hooks.receiver import Answer, Receiver, running_receiver

SECRET = "a-long-webhook-signing-secret"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    with sample_plugins.registered(monkeypatch):
        yield


def file_filter(config: Json, **fields: Any) -> Json:
    """A file_filter hook body named "filter"; ``fields`` add to or override it."""
    return {**builtin_hook("file_filter", name="filter", config=config), **fields}


# --- fail_closed -----------------------------------------------------------------------


async def test_fail_closed_defaults_to_false_and_can_be_set(
    client: httpx.AsyncClient, admin: Json
) -> None:
    open_hook = await created(client, "/api/hooks", admin["headers"], webhook())
    assert open_hook["fail_closed"] is False
    closed = await created(
        client, "/api/hooks", admin["headers"], webhook(name="gate", fail_closed=True)
    )
    assert closed["fail_closed"] is True
    url = f"/api/hooks/{open_hook['id']}"
    response = await client.patch(url, json={"fail_closed": True}, headers=admin["headers"])
    assert response.status_code == 200, response.text
    assert response.json()["fail_closed"] is True
    assert (await client.get(url, headers=admin["headers"])).json()["fail_closed"] is True
    listed = (await client.get("/api/hooks", headers=admin["headers"])).json()["items"]
    assert {hook["name"]: hook["fail_closed"] for hook in listed} == {"notify": True, "gate": True}


async def test_fail_closed_must_be_a_boolean(refused: Refuse) -> None:
    body = webhook(fail_closed="sometimes")
    await refused("POST", "/api/hooks", body, model=HookConfig, mentions="fail_closed")


# --- webhook config --------------------------------------------------------------------


@pytest.mark.parametrize("config", [{}, {"timeout_seconds": 0.5, "retries": 0}, {"retries": 10}])
async def test_valid_webhook_configs_are_stored(
    client: httpx.AsyncClient, admin: Json, config: Json
) -> None:
    hook = await created(client, "/api/hooks", admin["headers"], webhook(config=config))
    assert hook["config"] == config


@pytest.mark.parametrize(
    ("config", "mentions"),
    [
        ({"timeout_seconds": 0}, "timeout_seconds"),
        ({"timeout_seconds": 121}, "timeout_seconds"),
        ({"timeout_seconds": "10"}, "timeout_seconds"),
        ({"retries": -1}, "retries"),
        ({"retries": 11}, "retries"),
        ({"retries": 1.5}, "retries"),
        ({"headers": {"X": "y"}}, "headers"),
    ],
)
async def test_invalid_webhook_configs_are_rejected(
    refused: Refuse, config: Json, mentions: str
) -> None:
    body = webhook(config=config)
    detail = await refused(
        "POST", "/api/hooks", body, model=HookConfig, mentions=(mentions, "http_webhook")
    )
    assert "config for http_webhook is invalid" in detail


async def test_webhook_config_is_validated_on_patch(
    client: httpx.AsyncClient, admin: Json, refused: Refuse
) -> None:
    hook = await created(client, "/api/hooks", admin["headers"], webhook(config={"retries": 1}))
    url = f"/api/hooks/{hook['id']}"
    await refused("PATCH", url, {"config": {"retries": 99}}, model=HookConfig, mentions="retries")
    # Turning a built-in into a webhook re-checks the config it would keep.
    builtin = await created(
        client, "/api/hooks", admin["headers"], file_filter({"exclude_patterns": ["*.tmp"]})
    )
    change = {"implementation": "http_webhook", "webhook_url": "https://h.example.org/x"}
    builtin_url = f"/api/hooks/{builtin['id']}"
    await refused("PATCH", builtin_url, change, model=HookConfig, mentions="exclude_patterns")
    response = await client.patch(url, json={"config": {"retries": 3}}, headers=admin["headers"])
    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    ("config", "mentions"),
    [
        ({"exclude_patterns": ["[z-a].raw"]}, "exclude_patterns"),
        (redirect_to("a\\..\\..\\b"), "redirect_rules.0.destination"),
        (redirect_to("\uff0e\uff0e/b"), "redirect_rules.0.destination"),
    ],
)
async def test_file_filter_globs_and_destinations_are_checked(
    refused: Refuse, config: Json, mentions: str
) -> None:
    await refused("POST", "/api/hooks", file_filter(config), model=HookConfig, mentions=mentions)


# --- plugins ---------------------------------------------------------------------------


def plugin_hook(name: str, trigger: str = "pre_transfer", **fields: Any) -> Json:
    return {
        "name": f"my {name}",
        "trigger": trigger,
        "implementation": "plugin",
        "builtin_name": name,
        **fields,
    }


async def test_installed_plugins_are_listed(
    client: httpx.AsyncClient, admin: Json, alice: Json, plugins: None
) -> None:
    response = await client.get("/api/hooks/plugins", headers=admin["headers"])
    assert response.status_code == 200, response.text
    listed = {plugin["name"]: plugin for plugin in response.json()}
    assert sorted(listed) == ["crashing", "lims_owner", "lims_route", "odd"]
    assert listed["lims_route"]["trigger"] == "pre_transfer"
    assert listed["lims_route"]["description"] == "Routes files by LIMS project"
    assert listed["lims_route"]["config_schema"]["required"] == ["prefix"]
    assert listed["lims_owner"]["config_schema"] is None
    assert (await client.get("/api/hooks/plugins", headers=alice["headers"])).status_code == 403


async def test_plugin_hook_is_created_with_its_config_checked(
    client: httpx.AsyncClient, admin: Json, plugins: None
) -> None:
    body = plugin_hook("lims_route", config={"prefix": "projects"}, fail_closed=True)
    hook = await created(client, "/api/hooks", admin["headers"], body)
    assert (hook["implementation"], hook["builtin_name"]) == ("plugin", "lims_route")
    assert hook["config"] == {"prefix": "projects"} and hook["fail_closed"] is True


@pytest.mark.parametrize(
    ("body", "mentions"),
    [
        (plugin_hook("no_such"), ("no_such", "installed: crashing, lims_owner, lims_route, odd")),
        (plugin_hook("misnamed"), ("unusable",)),
        (plugin_hook("lims_route", config={}), ("prefix",)),
        (plugin_hook("lims_route", config={"prefix": ""}), ("prefix",)),
        (plugin_hook("lims_owner", "pre_transfer"), ("post_transfer",)),
        ({**plugin_hook("x"), "builtin_name": None}, ("builtin_name",)),
    ],
)
async def test_bad_plugin_hooks_are_rejected(
    refused: Refuse, plugins: None, body: Json, mentions: tuple[str, ...]
) -> None:
    await refused("POST", "/api/hooks", body, model=HookConfig, mentions=mentions)


async def test_without_plugins_the_answer_says_none_are_installed(
    refused: Refuse, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = plugin_hook("lims_route")
    with sample_plugins.registered(monkeypatch, {}):
        await refused("POST", "/api/hooks", body, model=HookConfig, mentions="installed: none")


async def test_python_script_is_still_refused(refused: Refuse) -> None:
    body = {
        "name": "s",
        "trigger": "pre_transfer",
        "implementation": "python_script",
        "script_path": "/opt/x.py",
    }
    await refused("POST", "/api/hooks", body, model=HookConfig, mentions="python_script")


# --- specs for the harvest -------------------------------------------------------------


async def test_specs_are_the_live_enabled_global_and_instruments_hooks_in_order(
    client: httpx.AsyncClient, app: Any, admin: Json
) -> None:
    headers = admin["headers"]
    scope = await instrument(client, admin, "scope")
    other = await instrument(client, admin, "other")
    own = webhook(
        "http://127.0.0.1:9/in?t=1",
        name="b-mine",
        instrument_id=scope["id"],
        webhook_secret=SECRET,
        priority=5,
        fail_closed=True,
    )
    mine = await created(client, "/api/hooks", headers, own)
    for body in (
        webhook(name="a-global", priority=5),
        file_filter({}, name="first", priority=-3),
        webhook(name="theirs", instrument_id=other["id"]),
        webhook(name="off", enabled=False),
    ):
        await created(client, "/api/hooks", headers, body)
    gone = await created(client, "/api/hooks", headers, webhook(name="gone"))
    assert (await client.delete(f"/api/hooks/{gone['id']}", headers=headers)).status_code == 204

    context = app.state.context
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(context.engine.sync_engine, "before_cursor_execute", count)
    try:
        async with context.sessionmaker() as session:
            specs = await hook_specs_for(session, scope["id"], context.secrets)
    finally:
        event.remove(context.engine.sync_engine, "before_cursor_execute", count)
    assert len(statements) == 1, statements
    assert [s.name for s in specs] == ["first", "a-global", "b-mine"]
    first, global_hook, own = specs
    assert (first.implementation, first.target, first.trigger) == (
        "builtin",
        "file_filter",
        "pre_transfer",
    )
    assert (own.id, own.target, own.priority, own.fail_closed) == (
        mine["id"],
        "http://127.0.0.1:9/in?t=1",
        5,
        True,
    )
    assert own.secret() == SECRET and global_hook.secret() is None
    assert SECRET not in repr(own) and SECRET not in repr(specs)


# --- dry run ---------------------------------------------------------------------------


async def dry_run(client: httpx.AsyncClient, admin: Json, body: Json) -> Json:
    response = await client.post("/api/hooks/dry-run", json=body, headers=admin["headers"])
    assert response.status_code == 200, response.text
    return dict(response.json())


async def test_dry_run_shows_skips_redirects_and_transfers(
    client: httpx.AsyncClient, admin: Json
) -> None:
    headers = admin["headers"]
    scope = await instrument(client, admin, "scope")
    other = await instrument(client, admin, "other")
    for body in (
        file_filter({"exclude_patterns": ["*.tmp"], "min_size_bytes": 1}, name="no temp"),
        file_filter(redirect_to("logs", "*.log"), name="logs aside", instrument_id=scope["id"]),
        file_filter({"exclude_patterns": ["*"]}, name="theirs", instrument_id=other["id"]),
        file_filter({"exclude_patterns": ["*"]}, enabled=False),
    ):
        await created(client, "/api/hooks", headers, body)
    base = {"instrument_id": scope["id"], "size_bytes": 10}

    skipped = await dry_run(client, admin, {**base, "source_path": "run1/a.tmp"})
    assert skipped["action"] == "skip"
    assert skipped["skip_rule"] == "File filter 'no temp' (file_filter): exclude pattern '*.tmp'"

    moved = await dry_run(client, admin, {**base, "source_path": "/run1/a.log"})
    assert moved["action"] == "transfer" and moved["skip_rule"] is None
    assert moved["destination_path"] == "logs/scope/run1/a.log"

    kept = await dry_run(client, admin, {**base, "source_path": "run1/a.raw"})
    assert kept["action"] == "transfer" and kept["destination_path"] == "scope/run1/a.raw"
    assert kept["failures"] == [] and kept["metadata"] == {}
    assert len(kept["pre_signature"]) == 64

    empty = await dry_run(client, admin, {"instrument_id": scope["id"], "source_path": "e.raw"})
    assert empty["action"] == "skip" and "min_size_bytes 1 (0 bytes)" in empty["skip_rule"]

    theirs = await dry_run(
        client, admin, {**base, "instrument_id": other["id"], "source_path": "x"}
    )
    assert "theirs" in theirs["skip_rule"]


async def test_dry_run_signature_changes_with_the_pre_hooks(
    client: httpx.AsyncClient, admin: Json
) -> None:
    scope = await instrument(client, admin, "scope")
    body = {"instrument_id": scope["id"], "source_path": "a.raw"}
    before = (await dry_run(client, admin, body))["pre_signature"]
    hook = await created(client, "/api/hooks", admin["headers"], file_filter({}))
    with_hook = (await dry_run(client, admin, body))["pre_signature"]
    await client.patch(
        f"/api/hooks/{hook['id']}",
        json={"config": {"exclude_patterns": ["*.bak"]}},
        headers=admin["headers"],
    )
    changed = (await dry_run(client, admin, body))["pre_signature"]
    assert len({before, with_hook, changed}) == 3


async def test_dry_run_calls_webhooks(
    client: httpx.AsyncClient, admin: Json, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook_module, "BACKOFF_SECONDS", 0.01)
    scope = await instrument(client, admin, "scope")
    url = receiver.script(
        "/gate", Answer(body={"action": "skip", "reason": "sample not registered in LIMS"})
    )
    gate = webhook(url, name="lims gate", trigger="pre_transfer", webhook_secret=SECRET)
    await created(client, "/api/hooks", admin["headers"], gate)
    # A post-transfer webhook is not called by a pre-transfer dry run.
    await created(client, "/api/hooks", admin["headers"], webhook(receiver.url("/post")))
    result = await dry_run(
        client, admin, {"instrument_id": scope["id"], "source_path": "S1/a.raw", "size_bytes": 5}
    )
    assert result["action"] == "skip"
    assert (
        result["skip_rule"] == "Webhook 'lims gate' (http_webhook): sample not registered in LIMS"
    )
    (request,) = receiver.requests
    assert request.path == "/gate" and "X-StreamWeave-Signature" in request.headers
    assert request.json()["file"]["source_path"] == "S1/a.raw"
    assert request.json()["file"]["size"] == 5


async def test_dry_run_reports_a_blocking_failure(
    client: httpx.AsyncClient, admin: Json, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(webhook_module, "BACKOFF_SECONDS", 0.01)
    scope = await instrument(client, admin, "scope")
    url = receiver.script("/down", Answer(503))
    gate = webhook(
        url,
        name="gate",
        trigger="pre_transfer",
        fail_closed=True,
        webhook_secret=SECRET,
        config={"retries": 1},
    )
    await created(client, "/api/hooks", admin["headers"], gate)
    result = await dry_run(client, admin, {"instrument_id": scope["id"], "source_path": "a.raw"})
    assert result["action"] == "blocked"
    (failure,) = result["failures"]
    assert failure["hook"] == "gate" and failure["blocking"] is True
    assert "answered 503" in failure["message"] and SECRET not in str(result)
    assert len(receiver.requests) == 2


async def test_dry_run_needs_a_live_instrument(
    client: httpx.AsyncClient, admin: Json, alice: Json
) -> None:
    scope = await instrument(client, admin, "scope")
    body = {"instrument_id": scope["id"], "source_path": "a.raw"}
    assert (
        await client.delete(f"/api/instruments/{scope['id']}", headers=admin["headers"])
    ).status_code == 204
    response = await client.post("/api/hooks/dry-run", json=body, headers=admin["headers"])
    assert response.status_code == 422 and "instrument_id" in response.text
    missing = {**body, "instrument_id": "00000000-0000-4000-8000-000000000000"}
    response = await client.post("/api/hooks/dry-run", json=missing, headers=admin["headers"])
    assert response.status_code == 422
    response = await client.post("/api/hooks/dry-run", json=body, headers=alice["headers"])
    assert response.status_code == 403
    for bad in ({**body, "source_path": ""}, {**body, "size_bytes": -1}):
        response = await client.post("/api/hooks/dry-run", json=bad, headers=admin["headers"])
        assert response.status_code == 422


@pytest.mark.parametrize("name", ["scope", "NMR/600 \\ a", " .hidden. ", "..", "Mikroskop-Ü"])
def test_default_destination_is_one_folder_per_instrument(name: str) -> None:
    instrument_id = uuid.uuid4()
    path = default_destination(name, instrument_id, "/run1/a.raw")
    folder, rest = path.split("/", 1)
    assert rest == "run1/a.raw"
    assert folder and "\\" not in folder and folder not in (".", "..")
    assert folder == destination_folder(name, instrument_id)
