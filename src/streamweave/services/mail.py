"""Outgoing e-mail over SMTP (implicit TLS, STARTTLS or plain, as configured)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
import ssl
from email.message import EmailMessage

from streamweave.config import Settings

log = logging.getLogger(__name__)


def _send(settings: Settings, message: EmailMessage) -> None:
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
        smtp.send_message(message)


async def send_mail(settings: Settings, to: str, subject: str, body: str) -> bool:
    """Send one message; False (and a log line without the body) when SMTP is not set up."""
    if not settings.smtp_host:
        log.warning("SMTP is not configured (SMTP_HOST); e-mail %r to %s not sent", subject, to)
        return False
    message = EmailMessage()
    message["From"] = settings.smtp_from
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    try:
        await asyncio.to_thread(_send, settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        log.error("could not send e-mail %r to %s via %s: %s", subject, to, settings.smtp_host, exc)
        return False
    return True
