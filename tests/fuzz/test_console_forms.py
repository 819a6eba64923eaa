"""Every console form fuzzed with Hypothesis, on SQLite and PostgreSQL.

Each POST route of the console gets its own test: a signed-in owner posts the form with a valid CSRF token and
fields drawn from a strategy per field (emails, usernames, phones, passwords, lengths, steps, roles, custom
property pairs: well-formed values that reach the success paths, and hostile ones beside them). Some values carry
markup probes (`<x-probe>` elements, attribute breakers). The answer is below 500, an HTML page or a redirect, and
no probe comes back unescaped. `SUMP_FUZZ_EXAMPLES` sets the examples per form (20 in `make test`, 60 in
`make fuzz`).
"""

from __future__ import annotations

import os
import re
import string
import uuid
from collections.abc import AsyncIterator
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sump.app import create_app
from sump.config import Settings
from tests.console.test_hostile_forms import CSRF, FORM, answer_type, console_post_routes
from tests.support import PASSWORD, SECRET, TenantWorld

EXAMPLES = int(os.environ.get("SUMP_FUZZ_EXAMPLES", "20"))
PROBE = "x-probe"
UNESCAPED = re.compile(r"<x-probe|\"x-probe|'x-probe")


def _routes() -> list[str]:
    app = create_app(Settings(env="test", database_url="sqlite+aiosqlite:///:memory:", secret_key=SECRET))
    app.state.hasher.close()
    return console_post_routes(app)


ROUTES = _routes()

# Markup that would run or break out of an attribute if echoed unescaped.
probes = st.sampled_from([f"<{PROBE}>", f'"{PROBE}=1', f"'{PROBE}=1", f"</textarea><{PROBE} a=1>", f'"><{PROBE}>'])
hostile = st.one_of(
    st.text(max_size=60),
    st.builds(lambda a, p, b: a + p + b, st.text(max_size=10), probes, st.text(max_size=10)),
    st.text(alphabet=string.printable, min_size=200, max_size=3000),
    st.sampled_from(["", " ", "0", "-1", "1e309", "NaN", "²", "\u0000", "\u202e", "[" * 200, "{}"]),
)
usernames = st.from_regex(r"[A-Za-z0-9_.\-]{3,20}", fullmatch=True)
phones = st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True)
passwords = st.one_of(st.just(PASSWORD), st.text(min_size=8, max_size=40), st.text(max_size=8))
lengths = st.integers(min_value=-5, max_value=300).map(str)
names = st.text(min_size=3, max_size=40)


def _or_hostile(strategy: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(strategy, strategy, hostile)


FIELD_STRATEGIES: dict[str, st.SearchStrategy[str]] = {
    "access": _or_hostile(st.sampled_from(["enabled", "disabled", "everyone", "invite"])),
    "action": _or_hostile(st.sampled_from(["save", "add", "remove", "set"])),
    "avatarUrl": _or_hostile(st.from_regex(r"https://[a-z]{1,10}\.example/[a-z0-9]{0,10}", fullmatch=True)),
    "confirm": _or_hostile(st.sampled_from(["yes", "on", "delete", "true"])),
    "currentPassword": _or_hostile(passwords),
    "email": _or_hostile(st.emails().filter(lambda e: len(e) <= 254)),
    "environmentName": _or_hostile(names),
    "identifier": _or_hostile(st.one_of(st.emails(), usernames, phones)),
    "name": _or_hostile(names),
    "newPassword": _or_hostile(passwords),
    "next": _or_hostile(st.sampled_from(["/console/", "/console/accounts", "https://evil.example/", "//evil"])),
    "ownerName": _or_hostile(names),
    "password": _or_hostile(passwords),
    "passwordChoice": _or_hostile(st.sampled_from(["set", "reset", "none"])),
    "passwordConfirm": _or_hostile(passwords),
    "passwordMaxLength": _or_hostile(lengths),
    "passwordMinLength": _or_hostile(lengths),
    "phone": _or_hostile(phones),
    "q": _or_hostile(st.text(max_size=30)),
    "role": _or_hostile(st.sampled_from(["owner", "admin", "user"])),
    "signupEnabled": _or_hostile(st.sampled_from(["on", "off", "true"])),
    "step": _or_hostile(st.sampled_from(["1", "2", "3", "4"])),
    "tenant": _or_hostile(names),
    "tenantId": _or_hostile(st.uuids().map(str)),
    "token": _or_hostile(st.text(alphabet=string.ascii_letters + string.digits + "-_", max_size=60)),
    "username": _or_hostile(usernames),
    "redirectUris": _or_hostile(st.sampled_from(["https://app.example.com/cb", "http://127.0.0.1/cb\nhttp://x/"])),
    "audience": _or_hostile(st.sampled_from(["https://api.example.com", ""])),
    "overlapHours": _or_hostile(st.sampled_from(["0", "24", "720", "721", "-1", "1e9"])),
    "scopes": _or_hostile(st.sampled_from(["openid", "email", "admin"])),
}
properties = st.lists(
    st.tuples(
        st.sampled_from(["key", "value", "remove"]),
        _or_hostile(st.one_of(st.from_regex(r"[a-z]{1,12}", fullmatch=True), st.just('{"a": [1, 2]}'))),
    ),
    max_size=6,
)
forms = st.tuples(
    st.fixed_dictionaries({}, optional=FIELD_STRATEGIES),
    properties,
)


class Console:
    """A browser signed in to the console as the world's owner; signs in again when a form ended the session."""

    def __init__(self, http: httpx.AsyncClient, world: TenantWorld) -> None:
        self.http = http
        self.world = world
        self.targets: dict[str, str] = {}

    async def url_of(self, route: str, client: httpx.AsyncClient) -> str:
        """The route's URL, aimed at a member and an end user made once for the test."""
        if not self.targets:
            self.targets = await _targets(client, self.world)
        account = self.targets["member"] if route.startswith("/accounts/") else self.targets["end_user"]
        ids = {
            **self.targets,
            "environment_id": self.world.environment_id,
            "session_id": str(uuid.uuid4()),
            "factor_id": str(uuid.uuid4()),  # no one's: a factor of the owner would make its sign-in two steps
            "account_id": account,
        }
        return "/console" + route.format(**ids)

    async def csrf(self) -> str:
        page = await self.http.get("/console/")
        if page.status_code != 200:
            await self.sign_in()
            page = await self.http.get("/console/")
        token = CSRF.search(page.text)
        if token is None:  # the tenant itself was deleted: the login page's token still checks the form
            token = CSRF.search((await self.http.get("/console/login")).text)
        assert token is not None, page.text[-500:]
        return token.group(1)

    async def sign_in(self) -> None:
        token = CSRF.search((await self.http.get("/console/login")).text)
        assert token is not None
        form = {
            "csrf": token.group(1),
            "tenantId": self.world.tenant_id,
            "identifier": self.world.owner.email,
            "password": PASSWORD,
        }
        await self.http.post("/console/login", data=form)


@pytest.fixture
async def console(app: FastAPI, world: TenantWorld) -> AsyncIterator[Console]:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://sump.test") as http:
        browser = Console(http, world)
        await browser.sign_in()
        yield browser


async def _targets(client: httpx.AsyncClient, world: TenantWorld) -> dict[str, str]:
    """A member, an end user (the first ORG_ADMIN of an organization), a custom permission granted by a custom
    role, an invitation and an application: what the console's forms act on."""
    member = await world.add_member("user")
    end_user = await _created(
        client,
        f"/api/v1/environments/{world.environment_id}/accounts",
        {"name": "Target User", "email": f"t-{uuid.uuid4().hex[:8]}@example.com", "username": "target"},
        world,
    )
    organization = await _created(
        client,
        f"/api/v1/environments/{world.environment_id}/organizations",
        {"name": "Target Organization", "adminAccountId": end_user["id"]},
        world,
    )
    catalog = f"{world.base}/environments/{world.environment_id}"
    permission = await _created(client, f"{catalog}/permissions", {"name": "reports:read"}, world)
    role = await _created(client, f"{catalog}/roles", {"name": "REPORTER", "permissions": ["reports:read"]}, world)
    invitation = await _created(client, f"{world.base}/invitations", {"email": "invited@example.com"}, world)
    application: dict[str, object] = {
        "purpose": "application",
        "name": "Target App",
        "redirectUris": ["https://app.example.com/cb"],
    }
    client_app = await _created(client, f"{catalog}/clients", application, world)
    return {
        "client_pk": client_app["id"],
        "member": member.account_id,
        "end_user": end_user["id"],
        "organization_id": organization["id"],
        "permission_name": permission["name"],
        "role_name": role["name"],
        "invitation_id": invitation["id"],
    }


async def _created(client: httpx.AsyncClient, url: str, body: dict[str, object], world: TenantWorld) -> dict[str, str]:
    response = await client.post(url, json=body, headers=world.owner.auth)
    assert response.status_code == 201, response.text
    created: dict[str, str] = response.json()
    return created


@pytest.mark.slow
@pytest.mark.asvs("VAL-01")
@pytest.mark.parametrize("route", ROUTES)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(form=forms)
async def test_console_form_fuzz(
    route: str, console: Console, client: httpx.AsyncClient, form: tuple[dict[str, str], list[tuple[str, str]]]
) -> None:
    url = await console.url_of(route, client)
    fields, pairs = form
    body = urlencode([("csrf", await console.csrf()), *fields.items(), *pairs])
    response = await console.http.post(url, content=body, headers=FORM)
    where = f"POST {url} {body[:500]!r}"
    assert response.status_code < 500, f"{where}: {response.status_code}\n{response.text[-2000:]}"
    if response.status_code != 303:
        assert response.headers["content-type"].startswith(answer_type(url)), where
    echoed = UNESCAPED.search(response.text)
    assert echoed is None, f"{where}: {response.text[max(0, echoed.start() - 200) : echoed.end() + 200]}"


# What the fuzzer found, reproduced so that it fails every time and not only when the generator draws it.


@pytest.mark.asvs("VAL-01")
async def test_the_enrolment_form_without_an_enrolment_is_a_refusal(console: Console) -> None:
    """The required policy's enrolment step posted with nothing of an enrolment (no tenant, factor or challenge)."""
    body = urlencode([("csrf", await console.csrf())])
    response = await console.http.post("/console/login/enrol", content=body, headers=FORM)

    assert 400 <= response.status_code < 500, response.text[-2000:]
    assert response.headers["content-type"].startswith("text/html")
