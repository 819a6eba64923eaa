"""The cross-tenant authorisation matrix, written down: every `/api/v1` route and the status each actor gets.

Actors: anonymous; the owner, an admin and a user of tenant A; the owner of tenant B; an end user of the
environment the row acts in (an environment of A); an end user of an environment of tenant B.

- anonymous gets 401 on everything but the public routes (creating a tenant; sign-in, sign-up, sign-out,
  forgotten and reset passwords, following an emailed link (an unknown token answers 400 to every actor alike),
  the token endpoint and its revocation; the JWKS and discovery documents; health), which answer every actor
  alike (magic links answer 403 `magic_links_disabled` alike: they are off unless the environment turns them on);
- the owner of tenant B gets 404 on A's objects, as if they did not exist, and 401 on A's sign-in routes
  (a session counts only in its own tenant or environment);
- a user of A gets 403 where an admin or the owner is needed;
- the token endpoint of a tenant's automation clients answers 401 `invalid_client` to every actor alike (none
  of them is a client; `tests/clients/test_automation.py` covers the clients themselves);
- the OpenID Provider's routes answer every actor alike, for none of them is a client or holds a client's token:
  introspection without a client's authentication 401; authorization without a client, and its continuation
  without a waiting request, 400 (an error page, never a redirect), and posted, 303 to the same request by GET;
  userinfo without an access token issued to a client 401; end-session without an ID token hint 400 (a bare
  link signs no one out);
- the second step of a sign-in (`…/login/factor`, `…/login/enrol/totp…`) is public but needs a live
  challenge: an unknown one answers 401 to every actor alike; one's own factors (`…/me/factors…`, step-up,
  recovery codes) follow the session rules of the sign-in routes, and an account without a factor gets 403
  `no_factor` where one is needed (another account's factor id answers 404); passkey routes answer an unknown
  challenge 401 alike, and 409 `passkeys_unavailable` in an environment without a relying party (tenant
  accounts have the console's, from `SUMP_PUBLIC_URL`);
- an end user is no tenant account: 401 on every tenant route. In their own environment they read and change
  only their own account (another end user's answers 404; managing end users, 403), see only the organizations
  they belong to (another answers 404), create organizations, read the audit log only by naming an
  organization (400 without one), and use only their own sessions (another's id answers 404). An end user of
  another environment gets 401 on this one's routes.
"""

from __future__ import annotations

Route = tuple[str, str]
ACTORS = ("anonymous", "owner", "admin", "user", "owner_b", "end_user", "end_user_b")
# From the least to the most privileged in A, so that what the owner does last (deleting the tenant) cannot
# hide the others' answers.
RUN_ORDER = ("anonymous", "end_user_b", "owner_b", "end_user", "user", "admin", "owner")

# Method, path template under `/api/v1`, then the status for each actor: anonymous, owner of A, admin of A, user
# of A, owner of B, end user of this environment (eu), end user of B's environment (euB).
TABLE = """
#       (paths under /api/v1)                                                           anon own adm usr   B  eu euB
POST    /tenants                                                                         201 201 201 201 201 201 201
GET     /tenants/{tenantId}                                                              401 200 200 200 404 401 401
PATCH   /tenants/{tenantId}                                                              401 204 204 403 404 401 401
DELETE  /tenants/{tenantId}                                                              401 204 403 403 404 401 401
PATCH   /tenants/{tenantId}/custom-property                                              401 204 204 403 404 401 401
DELETE  /tenants/{tenantId}/custom-property                                              401 204 204 403 404 401 401

GET     /tenants/{tenantId}/accounts                                                     401 200 200 200 404 401 401
POST    /tenants/{tenantId}/accounts                                                     401 201 201 403 404 401 401
GET     /tenants/{tenantId}/accounts/user-defined-identification                         401 200 200 200 404 401 401
GET     /tenants/{tenantId}/accounts/{accountId}                                         401 200 200 200 404 401 401
PATCH   /tenants/{tenantId}/accounts/{accountId}                                         401 204 204 403 404 401 401
PATCH   /tenants/{tenantId}/accounts/{accountId}/email                                   401 204 204 403 404 401 401
PATCH   /tenants/{tenantId}/accounts/{accountId}/phone                                   401 204 204 403 404 401 401
PATCH   /tenants/{tenantId}/accounts/{accountId}/username                                401 204 204 403 404 401 401
PATCH   /tenants/{tenantId}/accounts/{accountId}/role                                    401 204 204 403 404 401 401
POST    /tenants/{tenantId}/accounts/{accountId}/email-verified                          401 204 204 403 404 401 401
PATCH   /tenants/{tenantId}/accounts/{accountId}/disable                                 401 204 204 403 404 401 401
PATCH   /tenants/{tenantId}/accounts/{accountId}/enable                                  401 204 204 403 404 401 401
DELETE  /tenants/{tenantId}/accounts/{accountId}                                         401 204 204 403 404 401 401
DELETE  /tenants/{tenantId}/accounts/{accountId}/factors                                 401 200 200 403 404 401 401

POST    /tenants/{tenantId}/invitations                                                  401 201 201 403 404 401 401
GET     /tenants/{tenantId}/invitations                                                  401 200 200 403 404 401 401
POST    /tenants/{tenantId}/invitations/{invitationId}/resend                            401 200 200 403 404 401 401
DELETE  /tenants/{tenantId}/invitations/{invitationId}                                   401 204 204 403 404 401 401

POST    /tenants/{tenantId}/environments                                                 401 201 201 403 404 401 401
GET     /tenants/{tenantId}/environments                                                 401 200 200 200 404 401 401
GET     /tenants/{tenantId}/environments/{environmentId}                                 401 200 200 200 404 401 401
PATCH   /tenants/{tenantId}/environments/{environmentId}                                 401 204 204 403 404 401 401
DELETE  /tenants/{tenantId}/environments/{environmentId}                                 401 204 204 403 404 401 401
PATCH   /tenants/{tenantId}/environments/{environmentId}/custom-property                 401 204 204 403 404 401 401
DELETE  /tenants/{tenantId}/environments/{environmentId}/custom-property                 401 204 204 403 404 401 401
POST    /tenants/{tenantId}/environments/{environmentId}/keys/rotate                     401 200 200 403 404 401 401
GET     /tenants/{tenantId}/audit-events                                                 401 200 200 403 404 401 401
POST    /tenants/{tenantId}/clients                                                      401 201 403 403 404 401 401
GET     /tenants/{tenantId}/clients                                                      401 200 200 200 404 401 401
GET     /tenants/{tenantId}/clients/{id}                                           401 200 200 200 404 401 401
PATCH   /tenants/{tenantId}/clients/{id}                                           401 204 403 403 404 401 401
DELETE  /tenants/{tenantId}/clients/{id}                                           401 204 403 403 404 401 401
POST    /tenants/{tenantId}/clients/{id}/secrets                                   401 201 403 403 404 401 401

POST    /environments/{environmentId}/accounts                                           401 201 201 403 404 403 401
GET     /environments/{environmentId}/accounts                                           401 200 200 200 404 403 401
GET     /environments/{environmentId}/accounts/{accountId}                               401 200 200 200 404 404 401
PATCH   /environments/{environmentId}/accounts/{accountId}                               401 204 204 403 404 404 401
PATCH   /environments/{environmentId}/accounts/{accountId}/email                         401 204 204 403 404 404 401
PATCH   /environments/{environmentId}/accounts/{accountId}/phone                         401 204 204 403 404 404 401
PATCH   /environments/{environmentId}/accounts/{accountId}/username                      401 204 204 403 404 404 401
PATCH   /environments/{environmentId}/accounts/{accountId}/custom-property               401 204 204 403 404 404 401
DELETE  /environments/{environmentId}/accounts/{accountId}/custom-property               401 204 204 403 404 404 401
PATCH   /environments/{environmentId}/accounts/{accountId}/disable                       401 204 204 403 404 403 401
PATCH   /environments/{environmentId}/accounts/{accountId}/enable                        401 204 204 403 404 403 401
DELETE  /environments/{environmentId}/accounts/{accountId}/sessions                      401 200 200 403 404 403 401
POST    /environments/{environmentId}/accounts/{accountId}/password-reset                401 202 202 403 404 403 401
POST    /environments/{environmentId}/accounts/{accountId}/invitation                    401 202 202 403 404 403 401
POST    /environments/{environmentId}/accounts/{accountId}/email-verified                401 204 204 403 404 403 401
DELETE  /environments/{environmentId}/accounts/{accountId}                               401 204 204 403 404 404 401
DELETE  /environments/{environmentId}/accounts/{accountId}/factors                       401 200 200 403 404 403 401
GET     /environments/{environmentId}/audit-events                                       401 200 200 403 404 400 401

POST    /environments/{environmentId}/organizations                                      401 201 201 403 404 201 401
GET     /environments/{environmentId}/organizations                                      401 200 200 200 404 200 401
GET     /environments/{environmentId}/organizations/{organizationId}                     401 200 200 200 404 404 401
PATCH   /environments/{environmentId}/organizations/{organizationId}                     401 204 204 403 404 404 401
DELETE  /environments/{environmentId}/organizations/{organizationId}                     401 204 204 403 404 404 401
GET     /environments/{environmentId}/organizations/{organizationId}/members             401 200 200 200 404 404 401
POST    /environments/{environmentId}/organizations/{organizationId}/members             401 201 201 403 404 404 401
PATCH   /environments/{environmentId}/organizations/{organizationId}/members/{accountId} 401 204 204 403 404 404 401
DELETE  /environments/{environmentId}/organizations/{organizationId}/members/{accountId} 401 204 204 403 404 404 401
POST    /environments/{environmentId}/organizations/{organizationId}/invitations         401 201 201 403 404 404 401
GET     /environments/{environmentId}/organizations/{organizationId}/invitations         401 200 200 403 404 404 401
POST    {org}/invitations/{invitationId}/resend                                          401 200 200 403 404 404 401
DELETE  {org}/invitations/{invitationId}                                                 401 204 204 403 404 404 401
GET     /tenants/{tenantId}/environments/{environmentId}/permissions                     401 200 200 200 404 401 401
POST    /tenants/{tenantId}/environments/{environmentId}/permissions                     401 201 201 403 404 401 401
DELETE  /tenants/{tenantId}/environments/{environmentId}/permissions/{permissionName}    401 204 204 403 404 401 401
GET     /tenants/{tenantId}/environments/{environmentId}/roles                           401 200 200 200 404 401 401
POST    /tenants/{tenantId}/environments/{environmentId}/roles                           401 201 201 403 404 401 401
PATCH   /tenants/{tenantId}/environments/{environmentId}/roles/{roleName}                401 200 200 403 404 401 401
DELETE  /tenants/{tenantId}/environments/{environmentId}/roles/{roleName}                401 204 204 403 404 401 401
POST    /tenants/{tenantId}/environments/{environmentId}/clients                         401 201 201 403 404 401 401
GET     /tenants/{tenantId}/environments/{environmentId}/clients                         401 200 200 200 404 401 401
GET     /tenants/{tenantId}/environments/{environmentId}/clients/{id}              401 200 200 200 404 401 401
PATCH   /tenants/{tenantId}/environments/{environmentId}/clients/{id}              401 204 204 403 404 401 401
DELETE  /tenants/{tenantId}/environments/{environmentId}/clients/{id}              401 204 204 403 404 401 401
POST    /tenants/{tenantId}/environments/{environmentId}/clients/{id}/secrets      401 201 201 403 404 401 401
GET     /environments/{environmentId}/.well-known/jwks.json                              200 200 200 200 200 200 200
GET     /environments/{environmentId}/.well-known/openid-configuration                   200 200 200 200 200 200 200

POST    /auth/tenants/{tenantId}/login                                                   200 200 200 200 200 200 200
POST    /auth/tenants/{tenantId}/logout                                                  204 204 204 204 204 204 204
GET     /auth/tenants/{tenantId}/session                                                 401 200 200 200 401 401 401
GET     /auth/tenants/{tenantId}/sessions                                                401 200 200 200 401 401 401
DELETE  /auth/tenants/{tenantId}/sessions/{sessionId}                                    401 404 404 404 401 401 401
POST    /auth/tenants/{tenantId}/logout-all                                              401 200 200 200 401 401 401
POST    /auth/tenants/{tenantId}/forgot-password                                         200 200 200 200 200 200 200
POST    /auth/tenants/{tenantId}/reset-password                                          400 400 400 400 400 400 400
POST    /auth/tenants/{tenantId}/change-password                                         401 204 204 204 401 401 401
POST    /auth/tenants/{tenantId}/verify-email                                            400 400 400 400 400 400 400
POST    /auth/tenants/{tenantId}/verify-email/resend                                     401 202 202 202 401 401 401
POST    /auth/tenants/{tenantId}/cancel-email-change                                     400 400 400 400 400 400 400
POST    /auth/tenants/{tenantId}/invitations/accept                                      400 400 400 400 400 400 400
POST    /auth/tenants/{tenantId}/invitations/lookup                                      400 400 400 400 400 400 400
POST    /auth/tenants/{tenantId}/login/factor                                            401 401 401 401 401 401 401
POST    /auth/tenants/{tenantId}/login/enrol/totp                                        401 401 401 401 401 401 401
POST    /auth/tenants/{tenantId}/login/enrol/totp/confirm                                401 401 401 401 401 401 401
GET     /auth/tenants/{tenantId}/me/factors                                              401 200 200 200 401 401 401
POST    /auth/tenants/{tenantId}/me/factors/totp                                         401 201 201 201 401 401 401
POST    /auth/tenants/{tenantId}/me/factors/{factorId}/confirm                           401 404 404 404 401 401 401
DELETE  /auth/tenants/{tenantId}/me/factors/{factorId}                                   401 404 404 404 401 401 401
POST    /auth/tenants/{tenantId}/me/recovery-codes                                       401 403 403 403 401 401 401
POST    /auth/tenants/{tenantId}/step-up                                                 401 403 403 403 401 401 401
POST    /auth/tenants/{tenantId}/step-up/passkey/options                                 401 403 403 403 401 401 401
POST    /auth/tenants/{tenantId}/me/factors/passkey/options                              401 200 200 200 401 401 401
POST    /auth/tenants/{tenantId}/me/factors/passkey                                      401 401 401 401 401 401 401
POST    /auth/tenants/{tenantId}/login/factor/options                                    401 401 401 401 401 401 401
POST    /auth/tenants/{tenantId}/login/passkey/options                                   200 200 200 200 200 200 200
POST    /auth/tenants/{tenantId}/login/passkey                                           401 401 401 401 401 401 401
POST    /auth/tenants/{tenantId}/token                                                   401 401 401 401 401 401 401

POST    /auth/environments/{environmentId}/login                                         200 200 200 200 200 200 200
POST    /auth/environments/{environmentId}/signup                                        201 201 201 201 201 201 201
POST    /auth/environments/{environmentId}/logout                                        204 204 204 204 204 204 204
GET     /auth/environments/{environmentId}/session                                       401 401 401 401 401 200 401
GET     /auth/environments/{environmentId}/sessions                                      401 401 401 401 401 200 401
DELETE  /auth/environments/{environmentId}/sessions/{sessionId}                          401 401 401 401 401 404 401
POST    /auth/environments/{environmentId}/logout-all                                    401 401 401 401 401 200 401
POST    /auth/environments/{environmentId}/forgot-password                               200 200 200 200 200 200 200
POST    /auth/environments/{environmentId}/reset-password                                400 400 400 400 400 400 400
POST    /auth/environments/{environmentId}/change-password                               401 401 401 401 401 204 401
POST    /auth/environments/{environmentId}/verify-email                                  400 400 400 400 400 400 400
POST    /auth/environments/{environmentId}/verify-email/resend                           401 401 401 401 401 202 401
POST    /auth/environments/{environmentId}/cancel-email-change                           400 400 400 400 400 400 400
POST    /auth/environments/{environmentId}/invitations/accept                            401 401 401 401 401 400 401
POST    /auth/environments/{environmentId}/invitations/lookup                            400 400 400 400 400 400 400
POST    /auth/environments/{environmentId}/invitations/signup                            400 400 400 400 400 400 400
POST    /auth/environments/{environmentId}/invitations/set-password                      400 400 400 400 400 400 400
POST    /auth/environments/{environmentId}/magic-link                                    403 403 403 403 403 403 403
POST    /auth/environments/{environmentId}/magic-link/sign-in                            403 403 403 403 403 403 403
POST    /auth/environments/{environmentId}/login/factor                                  401 401 401 401 401 401 401
POST    /auth/environments/{environmentId}/login/enrol/totp                              401 401 401 401 401 401 401
POST    /auth/environments/{environmentId}/login/enrol/totp/confirm                      401 401 401 401 401 401 401
GET     /auth/environments/{environmentId}/me/factors                                    401 401 401 401 401 200 401
POST    /auth/environments/{environmentId}/me/factors/totp                               401 401 401 401 401 201 401
POST    /auth/environments/{environmentId}/me/factors/{factorId}/confirm                 401 401 401 401 401 404 401
DELETE  /auth/environments/{environmentId}/me/factors/{factorId}                         401 401 401 401 401 404 401
POST    /auth/environments/{environmentId}/me/recovery-codes                             401 401 401 401 401 403 401
POST    /auth/environments/{environmentId}/step-up                                       401 401 401 401 401 403 401
POST    /auth/environments/{environmentId}/step-up/passkey/options                       401 401 401 401 401 409 401
POST    /auth/environments/{environmentId}/me/factors/passkey/options                    401 401 401 401 401 409 401
POST    /auth/environments/{environmentId}/me/factors/passkey                            401 401 401 401 401 409 401
POST    /auth/environments/{environmentId}/login/factor/options                          401 401 401 401 401 401 401
POST    /auth/environments/{environmentId}/login/passkey/options                         409 409 409 409 409 409 409
POST    /auth/environments/{environmentId}/login/passkey                                 401 401 401 401 401 401 401
POST    /auth/environments/{environmentId}/token                                         200 200 200 200 200 200 200
POST    /auth/environments/{environmentId}/token/revoke                                  200 200 200 200 200 200 200
POST    /auth/environments/{environmentId}/token/introspect                              401 401 401 401 401 401 401
GET     /environments/{environmentId}/authorize                                          400 400 400 400 400 400 400
POST    /environments/{environmentId}/authorize                                          303 303 303 303 303 303 303
GET     /environments/{environmentId}/authorize/continue                                 400 400 400 400 400 400 400
GET     /environments/{environmentId}/userinfo                                           401 401 401 401 401 401 401
POST    /environments/{environmentId}/userinfo                                           401 401 401 401 401 401 401
GET     /environments/{environmentId}/end-session                                        400 400 400 400 400 400 400
POST    /environments/{environmentId}/end-session                                        400 400 400 400 400 400 400
GET     /auth/environments/{environmentId}/me                                            401 401 401 401 401 200 401

GET     /health                                                                          200 200 200 200 200 200 200
"""

# `{org}` in a path of TABLE stands for this, so that the longest paths keep to a line.
ORGANIZATION = "/environments/{environmentId}/organizations/{organizationId}"


def parse(table: str) -> dict[Route, dict[str, int]]:
    matrix: dict[Route, dict[str, int]] = {}
    for line in table.strip().splitlines():
        if line.strip() and not line.startswith("#"):
            method, path, *statuses = line.split()
            path = f"/api/v1{path.replace('{org}', ORGANIZATION)}"
            assert len(statuses) == len(ACTORS), line
            assert (method, path) not in matrix, line
            matrix[method, path] = dict(zip(ACTORS, map(int, statuses), strict=True))
    return matrix


MATRIX = parse(TABLE)

T = "/api/v1/tenants/{tenantId}"
TA = f"{T}/accounts/{{accountId}}"
TE = f"{T}/environments/{{environmentId}}"
EA = "/api/v1/environments/{environmentId}/accounts"
EO = "/api/v1/environments/{environmentId}/organizations"
AT = "/api/v1/auth/tenants/{tenantId}"
AE = "/api/v1/auth/environments/{environmentId}"

# Rows whose success removes, disables or uses up the target: each actor gets targets of its own.
FRESH_TARGETS = {
    ("DELETE", TA),
    ("DELETE", f"{T}/invitations/{{invitationId}}"),
    ("DELETE", f"{EO}/{{organizationId}}/invitations/{{invitationId}}"),
    ("PATCH", f"{TA}/disable"),
    ("DELETE", TE),
    ("DELETE", f"{TE}/roles/{{roleName}}"),
    ("DELETE", f"{TE}/permissions/{{permissionName}}"),
    ("DELETE", f"{EA}/{{accountId}}"),
    ("PATCH", f"{EA}/{{accountId}}/disable"),
    ("DELETE", f"{EO}/{{organizationId}}"),
    ("POST", f"{EO}/{{organizationId}}/members"),
    ("DELETE", f"{EO}/{{organizationId}}/members/{{accountId}}"),
    ("DELETE", f"{TE}/clients/{{id}}"),
    ("DELETE", f"{T}/clients/{{id}}"),
}
