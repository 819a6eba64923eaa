"""The scene a matrix row runs against, and a valid request for each route.

A scene is tenant A with its actors signed in, and the objects a row acts on: an environment of A (with an end
user of it signed in, the `end_user` actor), a plain `user` account of A and an end user of that environment to
act on (with a password and a session when the route signs in or names a session), an organization and a
custom role where the path names them. `ids` fills the path template.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.clients.support import application
from tests.matrix.table import AE, AT, EA, EO, TA, TE, Route, T
from tests.support import PASSWORD, TenantWorld, bearer, new_tenant, tenant_body

NEW_PASSWORD = "another correct horse battery"


def tag() -> str:
    return uuid.uuid4().hex[:10]


def person() -> dict[str, Any]:
    t = tag()
    return {"name": f"Person {t}", "email": f"person-{t}@example.com", "username": f"p_{t}"}


def phone() -> str:
    return f"+1555{uuid.uuid4().int % 10**7:07d}"


@dataclass
class Call:
    json: Any = None
    params: dict[str, str] | None = None


@dataclass
class Target:
    """An account to act on: a plain `user` of A, or an end user of A's environment."""

    account_id: str
    username: str
    email: str
    session_id: str | None = None
    token: str | None = None


@dataclass
class Scene:
    """A tenant (`a`) with its actors' tokens, and the targets in it that a row acts on."""

    http: httpx.AsyncClient
    a: TenantWorld
    tokens: dict[str, str | None]
    actor: str = "owner"
    ids: dict[str, str] = field(default_factory=dict)
    member: Target = field(init=False)
    end_user: Target = field(init=False)
    newcomer: str = ""

    @classmethod
    async def build(cls, http: httpx.AsyncClient, path: str) -> Scene:
        """Tenant A with every actor of the matrix: its owner, an admin and a user signed in, tenant B's owner
        and an end user of an environment of B."""
        a, b = await new_tenant(http), await new_tenant(http)
        admin, user = await a.add_member("admin"), await a.add_member("user")
        tokens = {
            "anonymous": None,
            "owner": a.owner.token,
            "admin": admin.token,
            "user": user.token,
            "owner_b": b.owner.token,
            "end_user_b": (await b.add_end_user()).token,
        }
        scene = cls(http, a, tokens)
        await scene.aim(path)
        return scene

    @classmethod
    async def home(cls, http: httpx.AsyncClient, world: TenantWorld, path: str) -> Scene:
        """`world` with only its owner (and the end user of the new environment) as actors."""
        scene = cls(http, world, {"owner": world.owner.token})
        await scene.aim(path)
        return scene

    async def aim(self, path: str) -> None:
        """New targets for the route, in a new environment with a new `end_user` actor."""
        password = {"password": PASSWORD} if path.endswith(("/login", "/token")) or "{sessionId}" in path else {}
        environment = await self.a.add_environment(name=f"matrix-{tag()}")
        self.tokens["end_user"] = (await self.a.add_end_user(environment)).token
        self.member = await self._target(
            f"{self.a.base}/accounts", f"/api/v1/auth/tenants/{self.a.tenant_id}", password
        )
        self.end_user = await self._target(
            f"/api/v1/environments/{environment}/accounts", f"/api/v1/auth/environments/{environment}", password
        )
        in_environment = path.startswith(("/api/v1/environments/", "/api/v1/auth/environments/"))
        target = self.end_user if in_environment else self.member
        self.ids = {"tenantId": self.a.tenant_id, "environmentId": environment, "accountId": target.account_id}
        if target.session_id:
            self.ids["sessionId"] = target.session_id
        if "{organizationId}" in path:
            await self._organization(environment)
        if "{invitationId}" in path:
            invitation = {"email": f"invited-{tag()}@example.com", "role": "user"}
            invitations = f"{self.a.base}/invitations"
            if "{organizationId}" in path:
                invitation["role"] = "ORG_USER"
                invitations = (
                    f"/api/v1/environments/{environment}/organizations/{self.ids['organizationId']}/invitations"
                )
            self.ids["invitationId"] = await self._created(invitations, invitation)
        if "{factorId}" in path:
            self.ids["factorId"] = str(uuid.uuid4())  # no one's: a factor answers only to its own account
        if "{roleName}" in path:
            self.ids["roleName"] = f"role_{tag()}"
            await self._created(f"{self.a.base}/environments/{environment}/roles", {"name": self.ids["roleName"]})
        if "{id}" in path:
            self.ids["id"] = await self._client(path, environment)
        if "{permissionName}" in path:
            self.ids["permissionName"] = f"p{tag()}:read"
            permissions = f"{self.a.base}/environments/{environment}/permissions"
            await self._created(permissions, {"name": self.ids["permissionName"]})

    async def _organization(self, environment: str) -> None:
        """An organization with the end user as ORG_ADMIN and a second end user as ORG_USER (the row's
        `accountId`), and a third end user who is not a member yet."""
        end_users = f"/api/v1/environments/{environment}/accounts"
        organizations = f"/api/v1/environments/{environment}/organizations"
        body = {"name": f"org-{tag()}", "adminAccountId": self.end_user.account_id}
        organization = self.ids["organizationId"] = await self._created(organizations, body)
        member = self.ids["accountId"] = await self._created(end_users, person())
        self.newcomer = await self._created(end_users, person())
        await self._created(f"{organizations}/{organization}/members", {"accountId": member})

    async def _client(self, path: str, environment: str) -> str:
        """An application of the environment, or an automation client of the tenant."""
        if "/environments/{environmentId}/clients" in path:
            return await self._created(f"{self.a.base}/environments/{environment}/clients", application())
        return await self._created(f"{self.a.base}/clients", {"name": "robot", "permissions": ["environments:read"]})

    async def _created(self, url: str, body: dict[str, Any]) -> str:
        response = await self.http.post(url, json=body, headers=self.a.owner.auth)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return str(created.get("id", ""))

    async def _target(self, accounts_url: str, auth_url: str, password: dict[str, str]) -> Target:
        body = person()
        target = Target(await self._created(accounts_url, {**body, **password}), body["username"], body["email"])
        if password:
            login = await self.http.post(f"{auth_url}/login", json={"username": target.username, **password})
            assert login.status_code == 200, login.text
            target.session_id, target.token = login.json()["session"]["id"], login.json()["token"]
        return target

    def headers(self, actor: str) -> dict[str, str]:
        token = self.tokens[actor]
        return bearer(token) if token else {}

    def credentials(self, target: Target) -> dict[str, str]:
        return {"username": target.username, "password": PASSWORD}

    def new_organization(self) -> dict[str, Any]:
        """An end user creating an organization becomes its ORG_ADMIN; a tenant account names one."""
        if self.actor.startswith("end_user"):
            return {"name": f"org-{tag()}"}
        return {"name": f"org-{tag()}", "adminAccountId": self.end_user.account_id}


# A valid request for each route that needs a body or a query; the others are sent without one.
# Passkey answers in the WebAuthn JSON shape whose challenge is no one's (`{}` as client data).
ASSERTION = {
    "id": "AAAA",
    "rawId": "AAAA",
    "type": "public-key",
    "response": {"clientDataJSON": "e30", "authenticatorData": "AAAA", "signature": "AAAA"},
}
ATTESTATION = {
    "id": "AAAA",
    "rawId": "AAAA",
    "type": "public-key",
    "response": {"clientDataJSON": "e30", "attestationObject": "AAAA"},
}
REQUESTS: dict[Route, Callable[[Scene], Call]] = {
    ("POST", "/api/v1/tenants"): lambda s: Call(tenant_body()),
    ("PATCH", T): lambda s: Call({"name": f"Renamed {tag()}"}),
    ("PATCH", f"{T}/custom-property"): lambda s: Call({"plan": "basic"}),
    ("DELETE", f"{T}/custom-property"): lambda s: Call({"customProperty": "plan"}),
    ("POST", f"{T}/accounts"): lambda s: Call(person()),
    ("GET", f"{T}/accounts/user-defined-identification"): lambda s: Call(params={"email": s.member.email}),
    ("PATCH", TA): lambda s: Call({"name": f"Renamed {tag()}"}),
    ("PATCH", f"{TA}/email"): lambda s: Call({"email": f"changed-{tag()}@example.com"}),
    ("PATCH", f"{TA}/phone"): lambda s: Call({"phone": phone()}),
    ("PATCH", f"{TA}/username"): lambda s: Call({"username": f"c_{tag()}"}),
    ("PATCH", f"{TA}/role"): lambda s: Call({"role": "user"}),
    ("POST", f"{T}/invitations"): lambda s: Call({"email": f"invited-{tag()}@example.com", "role": "user"}),
    ("POST", f"{T}/environments"): lambda s: Call({"name": f"env-{tag()}"}),
    ("PATCH", TE): lambda s: Call({"name": f"env-{tag()}"}),
    ("PATCH", f"{TE}/custom-property"): lambda s: Call({"region": "eu"}),
    ("DELETE", f"{TE}/custom-property"): lambda s: Call({"customProperty": "region"}),
    ("POST", EA): lambda s: Call(person()),
    ("PATCH", f"{EA}/{{accountId}}"): lambda s: Call({"name": f"Renamed {tag()}"}),
    ("PATCH", f"{EA}/{{accountId}}/email"): lambda s: Call({"email": f"changed-{tag()}@example.com"}),
    ("PATCH", f"{EA}/{{accountId}}/phone"): lambda s: Call({"phone": phone()}),
    ("PATCH", f"{EA}/{{accountId}}/username"): lambda s: Call({"username": f"c_{tag()}"}),
    ("PATCH", f"{EA}/{{accountId}}/custom-property"): lambda s: Call({"plan": "basic"}),
    ("DELETE", f"{EA}/{{accountId}}/custom-property"): lambda s: Call({"customProperty": "plan"}),
    ("POST", EO): lambda s: Call(s.new_organization()),
    ("PATCH", f"{EO}/{{organizationId}}"): lambda s: Call({"name": f"org-{tag()}"}),
    ("POST", f"{EO}/{{organizationId}}/members"): lambda s: Call({"accountId": s.newcomer}),
    ("PATCH", f"{EO}/{{organizationId}}/members/{{accountId}}"): lambda s: Call({"role": "ORG_ADMIN"}),
    ("POST", f"{TE}/permissions"): lambda s: Call({"name": f"p{tag()}:read"}),
    ("POST", f"{TE}/roles"): lambda s: Call({"name": f"role_{tag()}", "permissions": []}),
    ("PATCH", f"{TE}/roles/{{roleName}}"): lambda s: Call({"description": f"Changed {tag()}"}),
    ("POST", f"{TE}/clients"): lambda s: Call(application()),
    ("PATCH", f"{TE}/clients/{{id}}"): lambda s: Call({"name": f"app-{tag()}"}),
    ("POST", f"{TE}/clients/{{id}}/secrets"): lambda s: Call({"overlapSeconds": 60}),
    ("POST", f"{T}/clients"): lambda s: Call({"name": f"robot-{tag()}", "permissions": ["environments:read"]}),
    ("PATCH", f"{T}/clients/{{id}}"): lambda s: Call({"name": f"robot-{tag()}"}),
    ("POST", f"{AT}/login"): lambda s: Call(s.credentials(s.member)),
    ("POST", f"{AT}/token"): lambda s: Call({"grantType": "client_credentials"}),
    ("POST", f"{AT}/forgot-password"): lambda s: Call({"email": s.member.email}),
    ("POST", f"{AT}/reset-password"): lambda s: Call({"token": tag() * 4, "newPassword": NEW_PASSWORD}),
    ("POST", f"{AT}/change-password"): lambda s: Call({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
    ("POST", f"{AE}/login"): lambda s: Call(s.credentials(s.end_user)),
    ("POST", f"{AE}/signup"): lambda s: Call({**person(), "password": PASSWORD}),
    ("POST", f"{AE}/forgot-password"): lambda s: Call({"email": s.end_user.email}),
    ("POST", f"{AE}/reset-password"): lambda s: Call({"token": tag() * 4, "newPassword": NEW_PASSWORD}),
    ("POST", f"{AE}/change-password"): lambda s: Call({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}),
    ("POST", f"{AE}/token"): lambda s: Call({"grantType": "password", **s.credentials(s.end_user)}),
    **{
        ("POST", f"{base}/{page}"): lambda s: Call({"token": tag() * 4})
        for base in (AT, AE)
        for page in ("verify-email", "cancel-email-change")
    },
    ("POST", f"{EO}/{{organizationId}}/invitations"): lambda s: Call(
        {"email": f"invited-{tag()}@example.com", "role": "ORG_USER"}
    ),
    ("POST", f"{AE}/invitations/accept"): lambda s: Call({"token": tag() * 4}),
    ("POST", f"{AE}/invitations/lookup"): lambda s: Call({"token": tag() * 4}),
    ("POST", f"{AT}/invitations/lookup"): lambda s: Call({"token": tag() * 4}),
    ("POST", f"{AE}/magic-link"): lambda s: Call({"email": s.end_user.email}),
    ("POST", f"{AE}/magic-link/sign-in"): lambda s: Call({"token": tag() * 4}),
    ("POST", f"{AE}/invitations/signup"): lambda s: Call(
        {"token": tag() * 4, "name": "Invited Person", "username": f"i_{tag()}", "password": NEW_PASSWORD}
    ),
    ("POST", f"{AE}/invitations/set-password"): lambda s: Call({"token": tag() * 4, "password": NEW_PASSWORD}),
    ("POST", f"{AT}/invitations/accept"): lambda s: Call(
        {"token": tag() * 4, "name": "Invited Person", "username": f"i_{tag()}", "password": NEW_PASSWORD}
    ),
    ("POST", f"{AE}/token/revoke"): lambda s: Call({"refreshToken": tag() * 4}),
    ("GET", "/api/v1/environments/{environmentId}/authorize/continue"): lambda s: Call(params={"request": tag() * 4}),
    **{
        (method, f"{base}{path}"): body
        for base in (AT, AE)
        for method, path, body in (
            ("POST", "/login/factor", lambda s: Call({"challenge": tag() * 4, "code": "123456"})),
            ("POST", "/login/enrol/totp", lambda s: Call({"challenge": tag() * 4})),
            (
                "POST",
                "/login/enrol/totp/confirm",
                lambda s: Call({"challenge": tag() * 4, "factorId": str(uuid.uuid4()), "code": "123456"}),
            ),
            ("POST", "/me/factors/totp", lambda s: Call({"label": "matrix"})),
            ("POST", "/me/factors/{factorId}/confirm", lambda s: Call({"code": "123456"})),
            ("POST", "/step-up", lambda s: Call({"code": "123456"})),
            ("POST", "/login/factor/options", lambda s: Call({"challenge": tag() * 4})),
            ("POST", "/login/passkey/options", lambda s: Call({})),
            ("POST", "/login/passkey", lambda s: Call({"credential": ASSERTION})),
            ("POST", "/me/factors/passkey", lambda s: Call({"credential": ATTESTATION})),
        )
    },
}


def without_body(scene: Scene) -> Call:
    return Call()


def request_for(route: Route, scene: Scene) -> Call:
    return REQUESTS.get(route, without_body)(scene)
