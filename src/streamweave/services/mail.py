"""Outgoing e-mail over SMTP (implicit TLS, STARTTLS or plain, as configured)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from collections.abc import Sequence
from email.message import EmailMessage

from streamweave.config import Settings

log = logging.getLogger(__name__)


def _send(settings: Settings, messages: Sequence[EmailMessage]) -> None:
    """All ``messages`` over one connection (one login, however many recipients)."""
    assert settings.smtp_host
    context = ssl.create_default_context()
    smtp: smtplib.SMTP
    if settings.smtp_security == "tls":
        smtp = smtplib.SMTP_SSL(settings.smtp_host, settings.smtp_port, timeout=30, context=context)
    else:
        smtp = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30)
    with smtp:
        if settings.smtp_security == "starttls":
            smtp.starttls(context=context)
        if settings.smtp_user and settings.smtp_password:
            smtp.login(settings.smtp_user, settings.smtp_password)
        for message in messages:
            smtp.send_message(message)


def _message(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


async def send_each(settings: Settings, recipients: Sequence[str], subject: str, body: str) -> bool:
    """One message per recipient (nobody sees the others' addresses), over one connection.
    False when SMTP is not set up or the server failed; the log line names the server and
    the error, never the body or the credentials."""
    if not settings.smtp_configured:
        log.warning("SMTP is not configured (SMTP_HOST); e-mail %r not sent", subject)
        return False
    if not recipients:
        return True
    messages = [_message(settings, to, subject, body) for to in recipients]
    try:
        await asyncio.to_thread(_send, settings, messages)
    except (OSError, smtplib.SMTPException) as exc:
        log.error(
            "could not send e-mail %r to %d recipient(s) via %s:%s (%s): %s",
            subject,
            len(messages),
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_security,
            exc,
        )
        return False
    return True


async def send_mail(settings: Settings, to: str, subject: str, body: str) -> bool:
    """Send one message; False (and a log line without the body) when SMTP is not set up."""
    return await send_each(settings, [to], subject, body)
