"""Where emails go: the console (development) or an SMTP server (aiosmtplib, STARTTLS or implicit TLS)."""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import structlog

from sump.config import EmailBackend, Settings

log = structlog.get_logger("sump.email")


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


class Mailer(Protocol):
    async def send(self, email: Email) -> None: ...


def build_message(sender: str, email: Email) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class ConsoleMailer:
    """Writes each email to the log: for development only, since it logs reset links."""

    def __init__(self, sender: str) -> None:
        self.sender = sender

    async def send(self, email: Email) -> None:
        log.info("email", sender=self.sender, to=email.to, subject=email.subject, text=email.text)


@dataclass(frozen=True)
class SmtpMailer:
    sender: str
    host: str
    port: int
    username: str | None
    password: str | None
    use_tls: bool
    start_tls: bool
    timeout: float = 10.0

    @classmethod
    def from_url(cls, url: str, sender: str) -> SmtpMailer:
        """`smtp://user:password@host:port?starttls=true` or `smtps://…` for implicit TLS."""
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("SUMP_SMTP_URL must look like smtp://user:password@host:port or smtps://…")
        query = parse_qs(parts.query)
        implicit = parts.scheme == "smtps"
        return cls(
            sender=sender,
            host=parts.hostname,
            port=parts.port or (465 if implicit else 25),
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            use_tls=implicit,
            start_tls=query.get("starttls", ["false"])[0].lower() in {"1", "true", "yes"},
        )

    async def send(self, email: Email) -> None:
        import aiosmtplib  # with the first email sent over SMTP, not at every worker's start

        await aiosmtplib.send(
            build_message(self.sender, email),
            hostname=self.host,
            port=self.port,
            username=self.username,
            password=self.password,
            use_tls=self.use_tls,
            start_tls=self.start_tls if not self.use_tls else False,
            timeout=self.timeout,
        )


def mailer_for(settings: Settings) -> Mailer:
    if settings.email_backend is EmailBackend.SMTP:
        assert settings.smtp_url is not None
        return SmtpMailer.from_url(settings.smtp_url, settings.email_from)
    return ConsoleMailer(settings.email_from)
