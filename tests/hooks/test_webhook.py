"""http_webhook against a real HTTP server on loopback."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from streamweave.errors import ConfigurationError
from streamweave.hooks import GrantRequest, HookChain, HookSpec
from streamweave.hooks import webhook as webhook_module
from tests.hooks.factories import facts, spec
from tests.hooks.receiver import Answer, Receiver, running_receiver

SECRET = "whsec-0123456789abcdef"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture(autouse=True)
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(webhook_module, "BACKOFF_SECONDS", 0.01)


def hook(url: str, trigger: str = "pre_transfer", **config: Any) -> HookSpec:
    return spec(
        url,
        config,
        name="gate",
        trigger=trigger,
        implementation="http_webhook",
        secret=lambda: SECRET,
        id="9b1d2c3e-0000-4000-8000-000000000001",
    )


async def run_pre(hooks: list[HookSpec], *files: Any, **kwargs: Any) -> Any:
    async with HookChain(hooks, **kwargs) as chain:
        return await chain.run_pre(list(files))


async def test_request_is_signed_and_carries_the_facts(receiver: Receiver) -> None:
    url = receiver.script("/hook", Answer(body={"action": "transfer"}))
    (outcome,) = await run_pre([hook(url)], facts("run1/a.raw", 42, local_copy="/srv/x"))
    assert outcome.skip_rule is None and outcome.failures == []
    (request,) = receiver.requests
    timestamp = request.headers["X-StreamWeave-Timestamp"]
    assert abs(int(timestamp) - time.time()) < 30
    expected = hmac.new(
        SECRET.encode(), timestamp.encode() + b"." + request.body, hashlib.sha256
    ).hexdigest()
    assert request.headers["X-StreamWeave-Signature"] == f"sha256={expected}"
    assert request.headers["Content-Type"] == "application/json"
    body = request.json()
    assert body["event"] == "pre_transfer"
    assert body["hook"] == {"id": "9b1d2c3e-0000-4000-8000-000000000001", "name": "gate"}
    assert body["file"] == {
        "source_path": "run1/a.raw",
        "size": 42,
        "mtime": "2026-01-02T03:04:05+00:00",
        "destination_path": "nmr-600/run1/a.raw",
        "metadata": {},
        "instrument_id": "6a1f0e4c-2b7d-4c55-9c1e-0d5b8f1e2a33",
        "instrument_name": "nmr-600",
        "persistent_id": None,
        "checksum": None,
        "checksum_algorithm": None,
    }
    assert SECRET not in request.body.decode() and "/srv/x" not in request.body.decode()


async def test_without_secret_there_is_no_signature(receiver: Receiver) -> None:
    url = receiver.script("/hook", Answer())
    unsigned = spec(url, name="n", trigger="pre_transfer", implementation="http_webhook")
    await run_pre([unsigned], facts("a"))
    assert "X-StreamWeave-Signature" not in receiver.requests[0].headers


async def test_5xx_is_retried_then_succeeds(receiver: Receiver) -> None:
    url = receiver.script(
        "/flaky", Answer(500), Answer(503), Answer(body={"action": "skip", "reason": "blank"})
    )
    (outcome,) = await run_pre([hook(url, retries=2)], facts("a.raw"))
    assert len(receiver.to("/flaky")) == 3
    assert outcome.failures == []
    assert outcome.skip_rule == "Webhook 'gate' (http_webhook): blank"


async def test_5xx_until_retries_run_out_is_a_failure(receiver: Receiver) -> None:
    url = receiver.script("/down", Answer(500, body={"error": "db down"}))
    (outcome,) = await run_pre([hook(url, retries=1)], facts("a.raw"))
    assert len(receiver.to("/down")) == 2
    (failure,) = outcome.failures
    assert "answered 500" in failure.message and "2 attempts" in failure.message
    assert failure.hook == "gate" and not failure.blocking
    assert outcome.skip_rule is None and outcome.destination_path == "nmr-600/a.raw"


async def test_4xx_is_not_retried(receiver: Receiver) -> None:
    url = receiver.script("/bad", Answer(400, body={"error": "unknown instrument"}))
    (outcome,) = await run_pre([hook(url, retries=5)], facts("a.raw"))
    assert len(receiver.to("/bad")) == 1
    (failure,) = outcome.failures
    assert "answered 400" in failure.message and "unknown instrument" in failure.message


async def test_redirects_are_not_followed(receiver: Receiver) -> None:
    url = receiver.script("/moved", Answer(302, body=b""))
    (outcome,) = await run_pre([hook(url)], facts("a.raw"))
    assert len(receiver.requests) == 1
    assert "answered 302" in outcome.failures[0].message


async def test_timeout_is_a_failure_and_retried(receiver: Receiver) -> None:
    url = receiver.script("/slow", Answer(delay=1.5))
    started = time.monotonic()
    (outcome,) = await run_pre([hook(url, timeout_seconds=0.2, retries=1)], facts("a.raw"))
    assert time.monotonic() - started < 1.4
    assert len(receiver.to("/slow")) == 2
    assert "timed out after 0.2 s" in outcome.failures[0].message


async def test_connect_error_is_retried_then_fails() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (outcome,) = await run_pre(
        [hook(f"http://127.0.0.1:{port}/x?token=abc", retries=2)], facts("a.raw")
    )
    (failure,) = outcome.failures
    assert "could not be reached" in failure.message and "3 attempts" in failure.message
    assert "token=abc" not in failure.message  # queries may hold tokens: never shown


async def test_redirect_answer_moves_the_file(receiver: Receiver) -> None:
    url = receiver.script(
        "/route",
        Answer(
            body={"action": "redirect", "destination": "quarantine/./a.raw", "metadata": {"q": 1}}
        ),
    )
    (outcome,) = await run_pre([hook(url)], facts("a.raw", metadata={"m": 0}))
    assert outcome.destination_path == "quarantine/a.raw"
    assert outcome.metadata == {"m": 0, "q": 1}
    assert outcome.failures == []


@pytest.mark.parametrize("destination", ["../x", "/etc/passwd", "a/../../b", "\uff0e\uff0e/b", ""])
@pytest.mark.parametrize("fail_closed", [False, True])
async def test_unsafe_redirect_answer_is_refused(
    receiver: Receiver, destination: str, fail_closed: bool
) -> None:
    url = receiver.script(
        "/evil",
        Answer(body={"action": "redirect", "destination": destination, "metadata": {"x": 1}}),
    )
    gate = hook(url)
    gate = HookSpec(**{**gate.__dict__, "fail_closed": fail_closed})
    (outcome,) = await run_pre([gate], facts("a.raw"))
    assert outcome.destination_path == "nmr-600/a.raw"
    assert outcome.metadata == {}  # the answer is applied whole or not at all
    assert outcome.blocked is fail_closed
    assert "redirect" in outcome.failures[0].message


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (Answer(body={"action": "delete"}), "expected 'transfer', 'skip' or 'redirect'"),
        (Answer(body=["skip"]), "expected an object"),
        (Answer(body=b"{not json"), "cannot be parsed"),
        (Answer(body={"metadata": [1, 2]}), "not an object"),
    ],
)
async def test_malformed_answers_are_failures(
    receiver: Receiver, answer: Answer, problem: str
) -> None:
    url = receiver.script("/odd", answer)
    (outcome,) = await run_pre([hook(url)], facts("a.raw"))
    assert problem in outcome.failures[0].message


@pytest.mark.parametrize(
    "answer",
    [
        Answer(body=None),
        Answer(status=204, body=None),
        Answer(body={}),
        Answer(body={"action": "transfer"}),
        Answer(body=b"OK", content_type="text/plain"),
    ],
)
async def test_acknowledgements_change_nothing(receiver: Receiver, answer: Answer) -> None:
    url = receiver.script("/ack", answer)
    (outcome,) = await run_pre([hook(url)], facts("a.raw"))
    assert outcome.skip_rule is None and outcome.failures == []
    assert outcome.destination_path == "nmr-600/a.raw"


async def test_skip_without_reason_still_names_the_hook(receiver: Receiver) -> None:
    url = receiver.script("/skip", Answer(body={"action": "skip"}))
    (outcome,) = await run_pre([hook(url)], facts("a.raw"))
    assert outcome.skip_rule == "Webhook 'gate' (http_webhook): the webhook said skip"


async def test_post_answer_metadata_reaches_access_assignment(receiver: Receiver) -> None:
    url = receiver.script("/lims", Answer(body={"metadata": {"owner": "anna@lab.org"}}))
    assign = spec(
        "access_assignment",
        {"grants": [{"grantee_type": "user", "match_field": "owner"}]},
        priority=200,
    )
    async with HookChain([hook(url, "post_transfer"), assign]) as chain:
        (outcome,) = await chain.run_post([facts("a.raw", metadata={"k": "v"})])
    assert outcome.metadata == {"k": "v", "owner": "anna@lab.org"}
    assert outcome.grants == [GrantRequest("user", "anna@lab.org")]
    assert receiver.requests[0].json()["event"] == "post_transfer"


async def test_post_answer_cannot_skip(receiver: Receiver) -> None:
    url = receiver.script("/late", Answer(body={"action": "skip"}))
    async with HookChain([hook(url, "post_transfer")]) as chain:
        (outcome,) = await chain.run_post([facts("a.raw")])
    assert outcome.failures == [] and outcome.metadata == {}


async def test_secret_never_appears_in_a_failure(receiver: Receiver) -> None:
    url = receiver.script("/echo", Answer(401, body={"error": f"bad secret {SECRET}"}))
    (outcome,) = await run_pre([hook(url)], facts("a.raw"))
    message = outcome.failures[0].message
    assert "answered 401" in message and SECRET not in message and "****" in message


async def test_undecryptable_secret_fails_without_a_request(receiver: Receiver) -> None:
    def secret() -> str:
        raise ConfigurationError("a stored secret cannot be decrypted with the configured keys")

    url = receiver.script("/never", Answer())
    locked = HookSpec(**{**hook(url).__dict__, "secret": secret})
    outcomes = await run_pre([locked], facts("a"), facts("b"))
    assert receiver.requests == []
    assert all("cannot be decrypted" in o.failures[0].message for o in outcomes)


async def test_concurrency_is_bounded(receiver: Receiver) -> None:
    url = receiver.script("/busy", Answer(delay=0.05))
    files = [facts(f"f{i}.raw") for i in range(24)]
    outcomes = await run_pre([hook(url)], *files, concurrency=4)
    assert len(receiver.requests) == 24 and all(not o.failures for o in outcomes)
    assert 1 < receiver.max_in_flight <= 4


async def test_shared_client_is_used_and_left_open(receiver: Receiver) -> None:
    url = receiver.script("/shared", Answer())
    async with httpx.AsyncClient(headers={"X-Test": "shared"}) as client:
        chain = HookChain([hook(url)], client=client)
        await chain.run_pre([facts("a")])
        await chain.aclose()
        assert not client.is_closed
    assert receiver.requests[0].headers["X-Test"] == "shared"


async def test_invalid_stored_config_is_reported() -> None:
    (outcome,) = await run_pre([hook("http://127.0.0.1:9/x", timeout_seconds=500)], facts("a"))
    assert "timeout_seconds" in outcome.failures[0].message


def test_config_schema_defaults() -> None:
    properties = webhook_module.CONFIG_SCHEMA["properties"]
    assert properties["timeout_seconds"]["default"] == 10
    assert properties["timeout_seconds"]["maximum"] == 120
    assert properties["retries"]["default"] == 2
    assert properties["retries"]["maximum"] == 10
    json.dumps(webhook_module.CONFIG_SCHEMA)
