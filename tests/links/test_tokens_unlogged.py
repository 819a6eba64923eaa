"""The tokens of emailed links (verification, invitations, magic links) appear in no log line and no audit event,
whether they are posted to the API or carried in the query of a console page, used or refused."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from sump.db.tables.audit import AuditEvent
from sump.kit.logging import LineWriter
from tests.links.conftest import delivered, link_in
from tests.mail import SmtpServer
from tests.support import new_tenant


async def test_link_tokens_are_never_logged_nor_audited(
    http: httpx.AsyncClient, mail_app: FastAPI, smtp: SmtpServer, db: AsyncSession
) -> None:
    world = await new_tenant(http)
    environment_id = await world.add_environment(settings={"magicLinksEnabled": True})
    user = await world.add_end_user(environment_id)
    email = f"invited-{uuid.uuid4().hex[:8]}@example.com"
    invited = await http.post(
        f"{world.base}/invitations", json={"email": email, "role": "user"}, headers=world.owner.auth
    )
    assert invited.status_code == 201
    await http.post(f"{user.auth_base}/magic-link", json={"email": user.email})
    verify = link_in(await delivered(mail_app, smtp, user.email, "Verify your email address"))[3]
    invitation = link_in(await delivered(mail_app, smtp, email, "You are invited to join a tenant"))[3]
    magic = link_in(await delivered(mail_app, smtp, user.email, "Your sign-in link"))[3]
    lines: list[str] = []

    def keep(_: LineWriter, message: str) -> None:
        lines.append(message)

    with pytest.MonkeyPatch.context() as patch:
        for level in ("msg", "log", "debug", "info", "warn", "warning", "error", "exception", "critical"):
            patch.setattr(LineWriter, level, keep)  # every record written meanwhile
        accept = f"/api/v1/auth/tenants/{world.tenant_id}/invitations/accept"
        page = await http.get(f"/console/accept-invitation?tenant={world.tenant_id}&token={invitation}")
        assert page.status_code == 200
        body = {"token": invitation, "name": "Invited Person", "username": "weak_one", "password": "password"}
        assert (await http.post(accept, json=body)).status_code == 400  # refused: a common password
        assert (await http.post(accept, json={**body, "password": "a good long passphrase"})).status_code == 201
        for _ in range(2):  # followed, then refused
            await http.post(f"{user.auth_base}/verify-email", json={"token": verify})
            await http.post(f"{user.auth_base}/magic-link/sign-in", json={"token": magic})
    logged = "\n".join(lines)
    assert "/verify-email" in logged  # the requests were logged…
    assert "/console/accept-invitation" in logged
    for token in (verify, invitation, magic):
        assert token not in logged  # …without their tokens
    details = await db.scalars(select(AuditEvent.details).where(AuditEvent.tenant_id == uuid.UUID(world.tenant_id)))
    recorded = json.dumps(list(details))
    assert "invalid_token" in recorded  # refusals were audited…
    for token in (verify, invitation, magic):
        assert token not in recorded  # …without the token
