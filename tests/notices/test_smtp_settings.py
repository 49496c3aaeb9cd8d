"""SMTP settings under StreamWeave's names and under v0's, as deployments set them."""

from __future__ import annotations

import pytest

from streamweave.config import Settings


@pytest.mark.parametrize(
    ("env", "security", "user", "configured"),
    [
        ({"SMTP_HOST": "mail"}, "starttls", None, True),
        ({"SMTP_HOST": "mail", "SMTP_TLS": "true"}, "tls", None, True),
        ({"SMTP_HOST": "mail", "SMTP_TLS": "false"}, "plain", None, True),
        (
            {"SMTP_HOST": "mail", "SMTP_TLS": "true", "SMTP_SECURITY": "starttls"},
            "starttls",
            None,
            True,
        ),
        ({"SMTP_HOST": "mail", "SMTP_USERNAME": "v0-user"}, "starttls", "v0-user", True),
        ({"STREAMWEAVE_SMTP_HOST": "mail", "STREAMWEAVE_SMTP_USER": "u"}, "starttls", "u", True),
        ({"SMTP_HOST": "mail", "SMTP_ENABLED": "false"}, "starttls", None, False),
        ({}, "starttls", None, False),
    ],
)
def test_smtp_settings_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
    env: dict[str, str],
    security: str,
    user: str | None,
    configured: bool,
) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    assert (settings.smtp_security, settings.smtp_user, settings.smtp_configured) == (
        security,
        user,
        configured,
    )


def test_the_aggregation_window_is_configurable(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().notice_aggregation_minutes == 60
    monkeypatch.setenv("STREAMWEAVE_NOTICE_AGGREGATION_MINUTES", "0")
    assert Settings().notice_aggregation_minutes == 0
    monkeypatch.setenv("STREAMWEAVE_NOTICE_AGGREGATION_MINUTES", "-5")
    with pytest.raises(ValueError, match="greater than or equal to 0"):
        Settings()
