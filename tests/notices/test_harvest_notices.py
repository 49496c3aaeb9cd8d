"""Admins hear of failed harvests, of files at the retry limit and of recoveries: in
the application (v0 notifications API) and by e-mail through a real SMTP server on
loopback (plain, STARTTLS, implicit TLS), one e-mail per instrument per aggregation
window (SQLite and PostgreSQL)."""

from __future__ import annotations

import asyncio
import logging
import shutil
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from streamweave.config import Settings
from streamweave.db.models import HarvestNoticeState, Instrument, Notification
from streamweave.harvest.lease import HarvestBusy
from streamweave.harvest.pipeline import Harvest, HarvestOptions
from streamweave.harvest.progress import HarvestSummary
from streamweave.services.harvest_notices import notify_harvest_finished
from streamweave.services.notice_digests import send_due_digests, send_periodically
from streamweave.transfers.base import CopyResult
from streamweave.transfers.errors import PermissionDenied
from streamweave.transfers.native import NativeAdapter
from tests.conftest import UserFactory
from tests.harvest.conftest import LocalLab
from tests.notices.conftest import (
    PUBLIC_URL,
    SMTP_PASSWORD,
    MailServerFactory,
    SinkFactory,
    free_port,
    mail_settings,
    notices,
)

MINUTE = timedelta(minutes=1)
# Implicit TLS: aiosmtpd cannot see that its socket is encrypted, and warns about AUTH.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")


@pytest.fixture(autouse=True)
def _on_both_backends(database_url: str) -> None:
    """Every test here runs on SQLite and on PostgreSQL."""


async def harvest(lab: LocalLab, **options: Any) -> tuple[HarvestSummary | None, Exception | None]:
    """One harvest as a flow or the CLI runs it: its summary, and what it raised."""
    run = Harvest(lab.sessions, lab.box, HarvestOptions(**options))
    try:
        return await run.run(lab.instrument_id, lab.storage_id), None
    except Exception as exc:
        return run.summary, exc


async def failing_harvest(lab: LocalLab) -> tuple[HarvestSummary | None, Exception | None]:
    """A harvest whose instrument directory is gone: the run fails."""
    parked = lab.source.with_name("parked")
    lab.source.rename(parked)
    try:
        summary, error = await harvest(lab)
    finally:
        parked.rename(lab.source)
    assert summary is not None and summary.status == "failed" and error is not None
    return summary, error


async def test_a_failed_harvest_is_mailed_and_shown_to_admins_only(
    lab: LocalLab, mail_server: MailServerFactory, make_user: UserFactory, client: httpx.AsyncClient
) -> None:
    first, second = await make_user(admin=True), await make_user(admin=True)
    alice = await make_user()
    sink, mail = mail_server("plain")
    lab.write("a.raw", b"a")
    summary, error = await failing_harvest(lab)

    report = await notify_harvest_finished(lab.sessions, mail, lab.instrument_id, summary, error)

    assert (report.event, report.admins_notified, report.mails_sent) == ("failure", 2, 1)
    assert summary is not None and summary.run_id is not None
    link = f"{PUBLIC_URL}/harvest-runs/{summary.run_id}"
    # One message per admin: nobody sees the other recipients; a regular user gets none.
    assert sorted(r.recipients[0] for r in sink.received) == sorted(
        [first["email"], second["email"]]
    )
    for received in sink.received:
        assert len(received.recipients) == 1 and received.message["To"] == received.recipients[0]
        assert received.subject == "[StreamWeave] Harvest of microscope into archive failed"
        assert str(lab.source) in received.body  # the reason: the directory is missing
        assert link in received.body
    for admin in (first, second):
        (notice,) = await notices(client, admin)
        assert notice["type"] == "harvest_failed" and notice["link"] == link
        assert notice["title"] == "Harvest of microscope into archive failed"
        assert str(lab.source) in notice["message"]
        count = await client.get("/api/notifications/unread-count", headers=admin["headers"])
        assert count.json() == {"count": 1}
    assert await notices(client, alice) == []
    # The link is the run's page in the web UI, under the public URL; the run it shows:
    run = await client.get("/api" + link.removeprefix(PUBLIC_URL), headers=first["headers"])
    assert run.status_code == 200 and run.json()["status"] == "failed"


async def test_failures_of_one_instrument_are_aggregated_into_one_mail_per_window(
    lab: LocalLab, admin: dict[str, Any], mail_server: MailServerFactory, client: httpx.AsyncClient
) -> None:
    sink, mail = mail_server("starttls", notice_aggregation_minutes=60)
    other = await _instrument_without_source(lab, "spectrometer")
    t0 = datetime.now(UTC)

    for minutes in (0, 10, 20):
        summary, error = await failing_harvest(lab)
        await notify_harvest_finished(
            lab.sessions, mail, lab.instrument_id, summary, error, now=t0 + minutes * MINUTE
        )
    # Another instrument has its own window: its first failure is mailed at once.
    await notify_harvest_finished(
        lab.sessions, mail, other, None, FileNotFoundError("gone"), now=t0 + 15 * MINUTE
    )
    assert [subject for subject, _ in sink.mails()] == [
        "[StreamWeave] Harvest of microscope into archive failed",
        "[StreamWeave] Harvest of spectrometer failed",
    ]
    # Every failure is in the application at once.
    assert [n["type"] for n in await notices(client, admin)] == ["harvest_failed"] * 4

    # The next harvest after the window sends the digest: the failures held since.
    summary, error = await failing_harvest(lab)
    report = await notify_harvest_finished(
        lab.sessions, mail, lab.instrument_id, summary, error, now=t0 + 61 * MINUTE
    )
    assert report.mails_sent == 1
    subject, (digest,) = sink.mails()[-1]
    assert subject == "[StreamWeave] microscope: 3 harvest failures"
    assert digest.body.count("Harvest of microscope into archive failed") == 3
    assert "within 60 minutes" in digest.body
    assert len(sink.received) == 3 and sink.logins == ["streamweave-mailer"] * 3


async def test_a_success_after_failures_sends_a_recovery_notice(
    lab: LocalLab, admin: dict[str, Any], mail_server: MailServerFactory, client: httpx.AsyncClient
) -> None:
    sink, mail = mail_server("tls")  # implicit TLS
    lab.write("run/a.raw", b"a" * 100)
    t0 = datetime.now(UTC)
    for minutes in (0, 5):
        summary, error = await failing_harvest(lab)
        await notify_harvest_finished(
            lab.sessions, mail, lab.instrument_id, summary, error, now=t0 + minutes * MINUTE
        )
    assert len(sink.mails()) == 1  # the second failure is held for the digest

    summary, error = await harvest(lab)
    assert error is None and summary is not None and summary.status == "completed"
    report = await notify_harvest_finished(
        lab.sessions, mail, lab.instrument_id, summary, None, now=t0 + 10 * MINUTE
    )

    # Admins were told it is failing: they hear at once that it is not, with the held
    # failure, inside the window.
    assert (report.event, report.mails_sent) == ("recovery", 1)
    subject, (recovery,) = sink.mails()[-1]
    assert subject == (
        "[StreamWeave] Harvest of microscope succeeded again after 1 harvest failure"
    )
    assert "completed without errors" in recovery.body
    assert f"{PUBLIC_URL}/harvest-runs/{summary.run_id}" in recovery.body
    kinds = [n["type"] for n in await notices(client, admin)]
    assert kinds == ["harvest_recovered", "harvest_failed", "harvest_failed"]

    # Further successes are news to nobody.
    summary, error = await harvest(lab)
    report = await notify_harvest_finished(
        lab.sessions, mail, lab.instrument_id, summary, error, now=t0 + 90 * MINUTE
    )
    assert (report.event, report.mails_sent, len(sink.received)) == (None, 0, 2)


class FailingFor(NativeAdapter):
    """The native adapter, except that some paths cannot be read."""

    def __init__(self, paths: set[str]) -> None:
        self.paths = paths

    async def copy_batch(self, source: Any, destination: Any, items: Any, **kw: Any) -> Any:
        readable = [i for i in items if i.source not in self.paths]
        done = {
            r.item.source: r for r in await super().copy_batch(source, destination, readable, **kw)
        }
        denied = PermissionDenied("permission denied")
        return [done.get(i.source) or CopyResult(i, error=denied) for i in items]


async def test_files_reaching_the_retry_limit_are_named_once(
    lab: LocalLab,
    admin: dict[str, Any],
    mail_server: MailServerFactory,
    client: httpx.AsyncClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sink, mail = mail_server("plain", notice_aggregation_minutes=0)
    lab.write("ok.raw", b"fine")
    lab.write("run 7/locked.raw", b"locked")
    monkeypatch.setattr(
        "streamweave.harvest.pipeline.adapter_for", lambda *a: FailingFor({"run 7/locked.raw"})
    )

    summary, error = await harvest(lab, retry_limit=1)
    assert error is None and summary is not None and summary.status == "completed_with_errors"
    report = await notify_harvest_finished(lab.sessions, mail, lab.instrument_id, summary, None)

    assert (report.event, report.mails_sent) == ("failure", 1)
    (received,) = sink.received
    assert received.subject == "[StreamWeave] 1 file of microscope reached the retry limit"
    assert "run 7/locked.raw: PermissionDenied: permission denied" in received.body
    (notice,) = await notices(client, admin)
    assert "run 7/locked.raw" in notice["message"] and notice["type"] == "harvest_failed"

    # Flagged files are not tried again, and not reported again; nor is this a recovery.
    summary, error = await harvest(lab, retry_limit=1)
    assert summary is not None and summary.permanently_failed == 1
    report = await notify_harvest_finished(lab.sessions, mail, lab.instrument_id, summary, None)
    assert (report.event, report.mails_sent, len(sink.received)) == (None, 0, 1)


async def test_an_smtp_failure_is_logged_without_secrets_and_the_mail_retried(
    lab: LocalLab,
    settings: Settings,
    smtp_sink: SinkFactory,
    admin: dict[str, Any],
    client: httpx.AsyncClient,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = "wrong-" + SMTP_PASSWORD
    nobody = mail_settings(settings, None, smtp_password=wrong, smtp_user="someone")
    summary, error = await failing_harvest(lab)
    t0 = datetime.now(UTC)

    with caplog.at_level(logging.INFO):
        report = await notify_harvest_finished(
            lab.sessions, nobody, lab.instrument_id, summary, error, now=t0
        )
        assert (report.event, report.mails_sent) == ("failure", 0)  # and nothing raised
        sink = smtp_sink("starttls")
        refused = mail_settings(settings, sink, smtp_password=wrong)
        report = await send_due_digests(lab.sessions, refused, t0 + MINUTE)
        assert report == 0 and sink.received == []
    logged = caplog.text
    assert "could not send e-mail" in logged and "Connection refused" in logged
    assert "535" in logged  # the server's refusal of the credentials
    assert wrong not in logged and SMTP_PASSWORD not in logged
    assert len(await notices(client, admin)) == 1  # the in-app notice stands

    # Once the server takes the mail, the held failure goes out.
    sent = await send_due_digests(lab.sessions, mail_settings(settings, sink), t0 + 2 * MINUTE)
    assert sent == 1
    (received,) = sink.received
    assert received.subject == "[StreamWeave] Harvest of microscope into archive failed"
    assert await send_due_digests(lab.sessions, mail_settings(settings, sink), t0 + 3 * MINUTE) == 0


class CommitTogether:
    """A sessionmaker whose first ``parties`` commits wait for each other: two workers
    that both decided on the same rows before either wrote."""

    def __init__(self, sessions: Any, parties: int) -> None:
        self.sessions = sessions
        self.barrier = asyncio.Barrier(parties)
        self.waiting = parties

    def __call__(self) -> Any:
        session = self.sessions()
        commit = session.commit

        async def together() -> None:
            if self.waiting:
                self.waiting -= 1
                await self.barrier.wait()
            await commit()

        session.commit = together
        return session


@pytest.mark.usefixtures("admin")
async def test_a_workers_timer_sends_a_digest_when_its_window_ends(
    lab: LocalLab, mail_server: MailServerFactory
) -> None:
    """Without another harvest to send it, the held failure goes out once the window
    has passed, from the worker's timer; and not before."""
    sink, mail = mail_server("plain", notice_aggregation_minutes=60)
    t0 = datetime.now(UTC)
    for minutes in (0, 10):
        summary, error = await failing_harvest(lab)
        await notify_harvest_finished(
            lab.sessions, mail, lab.instrument_id, summary, error, now=t0 + minutes * MINUTE
        )
    assert len(sink.received) == 1  # the first at once, the second held
    now = t0 + 30 * MINUTE
    stop = asyncio.Event()
    timer = asyncio.create_task(send_periodically(lab.sessions, mail, stop, 0.05, lambda: now))
    await asyncio.sleep(0.3)
    assert len(sink.received) == 1  # still within the window
    now = t0 + 61 * MINUTE
    for _ in range(100):
        if len(sink.received) == 2:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.3)  # more rounds: nothing more is due
    stop.set()
    await asyncio.wait_for(timer, 5)
    # One mail for each failure, the second when the window ended; none after.
    failed = "[StreamWeave] Harvest of microscope into archive failed"
    assert [(subject, len(mails)) for subject, mails in sink.mails()] == [(failed, 2)]


@pytest.mark.usefixtures("admin")
async def test_two_workers_send_a_due_digest_once(
    lab: LocalLab, mail_server: MailServerFactory
) -> None:
    sink, mail = mail_server("plain")
    t0 = datetime.now(UTC)
    for minutes in (0, 1, 2):
        summary, error = await failing_harvest(lab)
        await notify_harvest_finished(
            lab.sessions, mail, lab.instrument_id, summary, error, now=t0 + minutes * MINUTE
        )
    assert len(sink.received) == 1

    both_read = CommitTogether(lab.sessions, 2)  # both have read the row when one writes
    sent = await asyncio.gather(
        *(send_due_digests(both_read, mail, t0 + 70 * MINUTE) for _ in range(2))  # type: ignore[arg-type]
    )

    assert sorted(sent) == [0, 1]
    assert [s for s, _ in sink.mails()][-1] == "[StreamWeave] microscope: 2 harvest failures"
    async with lab.sessions() as session:
        state = await session.get(HarvestNoticeState, lab.instrument_id)
        assert state is not None and state.held == [] and state.held_since is None


async def test_no_secret_reaches_a_notice(
    lab: LocalLab, admin: dict[str, Any], mail_server: MailServerFactory, client: httpx.AsyncClient
) -> None:
    """An SMB instrument whose server is down: its service account's password is in the
    harvest's hands, and the SMTP password in the mailer's; neither is in any notice."""
    from streamweave.db.models import ServiceAccount

    sink, mail = mail_server("starttls")
    share_password = "share-Pa55-kept-secret"
    async with lab.sessions() as session:
        account = ServiceAccount(
            name="reader", username="lab", password_encrypted=lab.box.encrypt(share_password)
        )
        session.add(account)
        await session.flush()
        instrument = Instrument(
            name="NMR 600",
            source_type="cifs",
            cifs_host="127.0.0.1",
            cifs_port=free_port(),
            cifs_share="data",
            service_account_id=account.id,
            completion_rule={"mode": "none"},
        )
        session.add(instrument)
        await session.commit()
        instrument_id = instrument.id
    run = Harvest(lab.sessions, lab.box, HarvestOptions())
    with pytest.raises(Exception) as raised:
        await run.run(instrument_id, lab.storage_id)

    report = await notify_harvest_finished(
        lab.sessions, mail, instrument_id, run.summary, raised.value
    )

    assert (report.event, report.mails_sent) == ("failure", 1)
    (received,) = sink.received
    (notice,) = await notices(client, admin)
    assert "HostUnreachable" in received.body and "HostUnreachable" in notice["message"]
    for text in (received.raw, str(notice)):
        assert share_password not in text and SMTP_PASSWORD not in text
    async with lab.sessions() as session:
        stored = (await session.scalars(select(Notification.message))).all()
    assert all(share_password not in m and SMTP_PASSWORD not in m for m in stored)


@pytest.mark.usefixtures("admin")
async def test_busy_and_dry_runs_are_nobodys_failure(
    lab: LocalLab, mail_server: MailServerFactory
) -> None:
    sink, mail = mail_server("plain")
    busy = HarvestBusy("another harvest of microscope is running")
    started = HarvestSummary(None, "microscope", "archive")  # raised before it began
    dry, _ = await harvest(lab, dry_run=True)

    for summary, error in ((started, busy), (None, busy), (dry, None)):
        report = await notify_harvest_finished(
            lab.sessions, mail, lab.instrument_id, summary, error
        )
        assert (report.event, report.admins_notified, report.mails_sent) == (None, 0, 0)
    assert sink.received == []


async def test_without_smtp_admins_are_still_notified_in_app(
    lab: LocalLab, settings: Settings, admin: dict[str, Any], client: httpx.AsyncClient
) -> None:
    summary, error = await failing_harvest(lab)
    report = await notify_harvest_finished(
        lab.sessions, settings, lab.instrument_id, summary, error
    )
    assert (report.event, report.admins_notified, report.mails_sent) == ("failure", 1, 0)
    assert len(await notices(client, admin)) == 1
    async with lab.sessions() as session:
        state = await session.get(HarvestNoticeState, lab.instrument_id)
        assert state is not None and state.held == []  # nothing piles up for a mailer


async def _instrument_without_source(lab: LocalLab, name: str) -> Any:
    missing = lab.source.with_name(f"{name}-missing")
    shutil.rmtree(missing, ignore_errors=True)
    async with lab.sessions() as session:
        instrument = Instrument(
            name=name,
            source_type="local",
            source_config={"path": str(missing)},
            completion_rule={"mode": "none"},
        )
        session.add(instrument)
        await session.commit()
        return instrument.id
