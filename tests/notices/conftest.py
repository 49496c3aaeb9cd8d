"""A real SMTP server on loopback (aiosmtpd) that keeps what it receives: plain,
STARTTLS or implicit TLS with a certificate made for the test, with or without
authentication; and settings that point StreamWeave at it."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from streamweave.config import Settings
from tests.harvest.conftest import lab as lab  # the local lab, for the tests here

SMTP_USER = "streamweave-mailer"
SMTP_PASSWORD = "smtp-Pa55-never-shown"
PUBLIC_URL = "https://data.lab.example/sw"


@dataclass
class Received:
    sender: str
    recipients: list[str]
    message: EmailMessage

    @property
    def subject(self) -> str:
        return str(self.message["Subject"]).strip()  # a long one is folded

    @property
    def body(self) -> str:
        return str(self.message.get_body(preferencelist=("plain",)).get_content())  # type: ignore[union-attr]

    @property
    def raw(self) -> str:
        return self.message.as_string()


@dataclass
class Sink:
    """What the server received, and how to reach it."""

    port: int
    security: str
    received: list[Received] = field(default_factory=list)
    logins: list[str] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 OK"

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        ok = (
            isinstance(data, LoginPassword)
            and data.login.decode() == SMTP_USER
            and data.password.decode() == SMTP_PASSWORD
        )
        if ok:
            self.logins.append(SMTP_USER)
        return AuthResult(success=ok, handled=False)

    def mails(self) -> list[tuple[str, list[Received]]]:
        """Received messages grouped by subject, in order: one e-mail to every admin."""
        groups: list[tuple[str, list[Received]]] = []
        for item in self.received:
            if groups and groups[-1][0] == item.subject:
                groups[-1][1].append(item)
            else:
                groups.append((item.subject, [item]))
        return groups


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="session")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1: (certificate, key) files."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


SinkFactory = Callable[..., Sink]


@pytest.fixture
def smtp_sink(
    certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> Iterator[SinkFactory]:
    """Start SMTP servers for the test: ``smtp_sink("plain" | "starttls" | "tls")``.
    TLS modes require authentication; the client trusts the test's certificate only."""
    controllers: list[Controller] = []
    monkeypatch.setenv("SSL_CERT_FILE", str(certificate[0]))

    def start(security: str = "plain", port: int | None = None) -> Sink:
        sink = Sink(port or free_port(), security)
        options: dict[str, Any] = {"hostname": "127.0.0.1", "port": sink.port}
        if security != "plain":
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*certificate)
            options.update(authenticator=sink.authenticate, auth_required=True)
            if security == "starttls":
                options.update(tls_context=context, require_starttls=True)
            else:
                # aiosmtpd cannot tell that its socket is TLS: it would refuse AUTH.
                options.update(
                    ssl_context=context, server_hostname="127.0.0.1", auth_require_tls=False
                )
        controller = Controller(sink, **options)
        controller.start()
        controllers.append(controller)
        return sink

    yield start
    for controller in controllers:
        controller.stop()


def mail_settings(settings: Settings, sink: Sink | None, **changes: Any) -> Settings:
    """The test settings with SMTP pointed at ``sink`` (or at a port nobody listens on)."""
    security = sink.security if sink else "plain"
    values: dict[str, Any] = {
        "smtp_host": "127.0.0.1",
        "smtp_port": sink.port if sink else free_port(),
        "smtp_security": security,
        "smtp_from": "streamweave@lab.example",
        "smtp_user": SMTP_USER if security != "plain" else None,
        "smtp_password": SMTP_PASSWORD if security != "plain" else None,
        "public_url": PUBLIC_URL,
        "notice_aggregation_minutes": 60,
        **changes,
    }
    return settings.model_copy(update=values)


MailServerFactory = Callable[..., tuple[Sink, Settings]]


@pytest.fixture
def mail_server(settings: Settings, smtp_sink: SinkFactory) -> MailServerFactory:
    """Start an SMTP server and the settings that point StreamWeave at it, in one step:
    ``sink, mail = mail_server("starttls", notice_aggregation_minutes=0)``. A test
    hands ``mail`` to the code that notifies, then reads what ``sink`` received: the two
    must name the same server, so they are made together."""

    def start(security: str = "plain", **changes: Any) -> tuple[Sink, Settings]:
        sink = smtp_sink(security)
        return sink, mail_settings(settings, sink, **changes)

    return start


async def notices(client: httpx.AsyncClient, user: dict[str, Any]) -> list[dict[str, Any]]:
    """The user's in-app notifications, newest first: what the web UI shows them."""
    response = await client.get("/api/notifications", headers=user["headers"])
    assert response.status_code == 200
    return list(response.json()["items"])
