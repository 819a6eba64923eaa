"""`GET …/session` renders its body itself: it must say exactly what the documented `SessionView` says."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from types import SimpleNamespace

import httpx
from hypothesis import given
from hypothesis import strategies as st

from sump.db.tables.sessions import AccountType
from sump.sessions.schemas import SessionView
from tests.support import TenantWorld


async def test_session_body_is_the_session_view_of_the_list(client: httpx.AsyncClient, world: TenantWorld) -> None:
    user = await world.add_end_user(world.environment_id)
    base = f"/api/v1/auth/environments/{world.environment_id}"
    one = await client.get(f"{base}/session", headers=user.auth)
    listed = await client.get(f"{base}/sessions", headers=user.auth)
    assert one.status_code == listed.status_code == 200
    assert one.headers["content-type"] == listed.headers["content-type"] == "application/json"
    [entry] = listed.json()
    assert entry.pop("current") is True
    assert one.json() == entry
    assert set(entry) >= {"id", "accountType", "accountId", "contextType", "contextId", "expiresAt", "createdAt"}


async def test_tenant_session_body_and_binding(
    client: httpx.AsyncClient, world: TenantWorld, other: TenantWorld
) -> None:
    own = await client.get(f"/api/v1/auth/tenants/{world.tenant_id}/session", headers=world.owner.auth)
    assert own.status_code == 200
    assert own.json()["contextType"] == "tenant"
    assert own.json()["contextId"] == world.tenant_id
    assert own.json()["accountType"] == "tenant_account"
    assert own.json()["accountId"] == world.owner.account_id
    for path in (
        f"/api/v1/auth/tenants/{other.tenant_id}/session",  # another tenant
        f"/api/v1/auth/environments/{world.environment_id}/session",  # the other family
    ):
        refused = await client.get(path, headers=world.owner.auth)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"] == 'Bearer realm="sump"'


_INSTANTS = st.datetimes(
    min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.sampled_from([UTC, None])
)
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)


@given(
    account_type=st.sampled_from(list(AccountType)),
    type_as_text=st.booleans(),
    environment=st.booleans(),
    instants=st.tuples(_INSTANTS, _INSTANTS, _INSTANTS, st.none() | _INSTANTS),
    ip_address=st.none() | _TEXT,
    user_agent=st.none() | _TEXT,
    amr=st.none() | st.lists(st.sampled_from(["pwd", "otp", "rc", "hwk", "swk", "mfa", "email"]), max_size=4),
)
def test_the_rendered_body_is_the_models_byte_for_byte(
    account_type: AccountType,
    type_as_text: bool,
    environment: bool,
    instants: tuple[datetime, datetime, datetime, datetime | None],
    ip_address: str | None,
    user_agent: str | None,
    amr: list[str] | None,
) -> None:
    """The session check writes its body without the model (`SessionView.render`); the model's own rendering
    of the same row is the reference, whatever the row holds (empty, escaped or non-ASCII text, any time), with
    the account type as the enum or as the database's text."""
    expires_at, last_active_at, created_at, elevated_until = instants
    context = uuid.uuid4()
    row = {
        "id": uuid.uuid4(),
        "account_type": account_type.value if type_as_text else account_type,
        "account_id": uuid.uuid4(),
        "tenant_id": uuid.uuid4(),
        "environment_id": context if environment else None,
        "expires_at": expires_at,
        "last_active_at": created_at,
        "created_at": created_at,
        "ip_address": ip_address,
        "user_agent": user_agent,
        "amr": amr,
        "elevated_until": elevated_until,
    }
    rendered = SessionView.render(row, last_active_at=last_active_at)
    session = SimpleNamespace(**{**row, "account_type": account_type})
    modelled = SessionView.of(session).model_copy(update={"last_active_at": last_active_at}).body()  # type: ignore[arg-type]
    assert rendered == modelled
    assert json.loads(rendered)["lastActiveAt"] == json.loads(modelled)["lastActiveAt"]
