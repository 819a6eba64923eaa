"""Emailed links (verification, email changes, invitations, magic links): an application that delivers its
outbox to a real SMTP server (aiosmtpd), and helpers that read links from what arrived."""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator
from email.message import EmailMessage
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.audit import AuditEvent
from tests.factors.conftest import clock  # noqa: F401  (the TOTP clock the factor tests move)
from tests.mail import SmtpServer

LINK = re.compile(r"http://sump\.test(?:/console)?/([a-z-]+)\?(tenant|environment)=([0-9a-f-]+)&token=([\w-]+)")


@pytest.fixture
async def http(mail_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=mail_app, raise_app_exceptions=False, client=("203.0.113.21", 1234))
    jar = CookieJar(policy=DefaultCookiePolicy(allowed_domains=[]))  # each request says which credentials it sends
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test", cookies=jar) as client:
        yield client


def text_of(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    content: str = body.get_content()
    return content


def link_in(message: EmailMessage, page: str | None = None) -> tuple[str, str, str, str]:
    """(page, family, context id, token) of the link in the email (of `page`, when given)."""
    for match in LINK.finditer(text_of(message)):
        if page is None or match.group(1) == page:
            return match.group(1), match.group(2), match.group(3), match.group(4)
    raise AssertionError(f"no {page or ''} link in: {text_of(message)}")


async def delivered(app: FastAPI, smtp: SmtpServer, to: str, subject: str, count: int = 1) -> EmailMessage:
    """The `count`-th email of this subject to `to`, once the outbox has run."""
    await app.state.outbox.run_once()
    found = [message for message in smtp.inbox.to(to, verification=True) if message["Subject"] == subject]
    assert len(found) >= count, [message["Subject"] for message in smtp.inbox.to(to, verification=True)]
    return found[count - 1]


async def events(db: AsyncSession, action: str, **where: Any) -> list[AuditEvent]:
    statement = select(AuditEvent).where(AuditEvent.action == action)
    for column, value in where.items():
        statement = statement.where(
            getattr(AuditEvent, column) == (uuid.UUID(value) if isinstance(value, str) else value)
        )
    return list(await db.scalars(statement))
