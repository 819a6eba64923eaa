"""Console pages for the organizations of one environment: searchable list, create, detail with members (add
by email or username, change role, remove), rename and delete.

Every page loads the environment through `sump.environments.service` (another tenant's answers 404) and acts
through `sump.organizations.service`, as the API does: any tenant account reads, owners and admins change
(403), and an organization keeps an ORG_ADMIN (409). Controls are shown enabled when the same rules in
`sump.organizations.policy` allow them, or disabled with the refusal's sentence.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import ImmutableMultiDict

from sump.access.actors import EnvironmentActor, TenantActor
from sump.access.policy import require
from sump.console.web import Actor, FormErrors, problem_errors, read_form, redirect, render, roll_back, validated
from sump.db.tables.organizations import ORG_USER
from sump.environment_accounts import service as end_users
from sump.environments import policy as environment_policy
from sump.environments import service as environments
from sump.kit.deps import SettingsDep
from sump.kit.errors import Problem
from sump.kit.transactions import DbSession
from sump.organizations import policy
from sump.organizations.schemas import MemberAdd, MemberRoleChange, OrganizationCreate, OrganizationUpdate
from sump.organizations.service import catalog, members, organizations

router = APIRouter(prefix="/environments/{environment_id}/organizations")
PAGE_SIZE = 50
MEMBERS_PAGE = 100
MAX_QUERY = 100
NO_SUCH_END_USER = "No end user of this environment has this email or username."


async def _acting(db: AsyncSession, actor: TenantActor, environment_id: uuid.UUID) -> EnvironmentActor:
    return EnvironmentActor(await environments.get(db, actor, environment_id), manager=actor)


def list_path(environment_id: uuid.UUID) -> str:
    return f"/console/environments/{environment_id}/organizations"


def detail_path(environment_id: uuid.UUID, organization_id: uuid.UUID) -> str:
    return f"{list_path(environment_id)}/{organization_id}"


async def _end_user_id(db: AsyncSession, acting: EnvironmentActor, identifier: str, field: str) -> uuid.UUID:
    if not identifier.strip():
        raise FormErrors({field: "This field is required."})
    try:
        return (await end_users.find_by_identifier(db, acting, identifier)).id
    except Problem as problem:
        if problem.status == 404:
            raise FormErrors({field: NO_SUCH_END_USER}) from problem
        raise


# ----------------------------------------------------------------------------------------------- list


@router.get("")
async def organizations_page(
    request: Request,
    environment_id: uuid.UUID,
    actor: Actor,
    db: DbSession,
    q: Annotated[str, Query(max_length=MAX_QUERY)] = "",
    after: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    acting = await _acting(db, actor, environment_id)
    q = q.strip()
    found = await organizations.page(db, acting, after, PAGE_SIZE + 1, q or None)
    fragment = bool(request.headers.get("hx-request")) and not request.headers.get("hx-history-restore-request")
    response = render(
        request,
        "organizations/results.html" if fragment else "organizations/list.html",
        actor=actor,
        section="environments",
        environment=acting.environment,
        organizations=[organization for organization, _ in found[:PAGE_SIZE]],
        next_after=found[PAGE_SIZE - 1][0].id if len(found) > PAGE_SIZE else None,
        after=after,
        q=q,
        create=environment_policy.manage(actor),
    )
    response.headers["Vary"] = "HX-Request"
    return response


# --------------------------------------------------------------------------------------------- create


def _new_page(
    request: Request, actor: TenantActor, acting: EnvironmentActor, status: int = 200, **context: Any
) -> Response:
    return render(
        request,
        "organizations/new.html",
        status,
        actor=actor,
        section="environments",
        environment=acting.environment,
        create=environment_policy.manage(actor),
        **context,
    )


@router.get("/new")
async def new_organization_page(request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession) -> Response:
    return _new_page(request, actor, await _acting(db, actor, environment_id))


@router.post("/new")
async def create_organization(
    request: Request, environment_id: uuid.UUID, actor: Actor, db: DbSession, settings: SettingsDep
) -> Response:
    form = await read_form(request, settings)
    acting = await _acting(db, actor, environment_id)
    values = {"name": form.get("name", "").strip(), "admin": form.get("admin", "").strip()}
    try:
        require(environment_policy.manage(actor))
        errors: dict[str, str] = {}
        body = None
        try:
            body = validated(OrganizationUpdate, {"name": values["name"]})
        except FormErrors as invalid:
            errors.update(invalid.errors)
        try:
            admin_id = await _end_user_id(db, acting, values["admin"], "admin")
        except FormErrors as invalid:
            errors.update(invalid.errors)
        if errors or body is None:
            raise FormErrors(errors)
        created = OrganizationCreate.model_validate({"name": body.name, "adminAccountId": str(admin_id)})
        organization = await organizations.create(db, acting, created)
    except FormErrors as invalid:
        return _new_page(request, actor, acting, 400, errors=invalid.errors, values=values)
    except Problem as problem:
        if problem.status == 404:
            raise
        await roll_back(db, actor)
        acting = await _acting(db, actor, environment_id)
        errors = problem_errors(problem).errors or {"form": problem.detail}
        return _new_page(request, actor, acting, problem.status, errors=errors, values=values)
    return redirect(request, detail_path(environment_id, organization.id), f"Organization {organization.name} created.")


# --------------------------------------------------------------------------------------------- detail


async def _detail(
    request: Request,
    db: AsyncSession,
    actor: TenantActor,
    acting: EnvironmentActor,
    organization_id: uuid.UUID,
    after: uuid.UUID | None = None,
    status: int = 200,
    errors: dict[str, str] | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    organization, _ = await organizations.get(db, acting, organization_id)
    rows = await members.members(db, acting, organization_id, after, MEMBERS_PAGE + 1)
    admins = await members.admins(db, acting, organization_id)
    roles = await catalog.roles(db, actor, acting.environment.id)
    return render(
        request,
        "organizations/detail.html",
        status,
        actor=actor,
        section="environments",
        environment=acting.environment,
        organization=organization,
        members=rows[:MEMBERS_PAGE],
        member_count=await members.count(db, acting, organization_id),
        next_after=rows[MEMBERS_PAGE - 1][0].id if len(rows) > MEMBERS_PAGE else None,
        after=after,
        roles=[role.name for role in roles],
        administer=policy.administer(acting, None),
        guards={account.id: policy.keeps_an_admin(admins, membership) for membership, account in rows},
        errors=errors,
        values={"name": organization.name, "role": ORG_USER, **(values or {})},
    )


@router.get("/{organization_id}")
async def organization_page(
    request: Request,
    environment_id: uuid.UUID,
    organization_id: uuid.UUID,
    actor: Actor,
    db: DbSession,
    after: Annotated[uuid.UUID | None, Query()] = None,
) -> Response:
    acting = await _acting(db, actor, environment_id)
    return await _detail(request, db, actor, acting, organization_id, after)


@dataclass(frozen=True)
class Posted:
    """A CSRF-checked form about one organization, with the environment loaded for the signed-in account."""

    request: Request
    db: AsyncSession
    actor: TenantActor
    acting: EnvironmentActor
    organization_id: uuid.UUID
    form: ImmutableMultiDict[str, str]

    @property
    def environment_id(self) -> uuid.UUID:
        return self.acting.environment.id

    def done(self, flash: str) -> Response:
        return redirect(self.request, detail_path(self.environment_id, self.organization_id), flash)

    async def refused(
        self, failed: FormErrors | Problem, values: dict[str, Any] | None = None, field: str | None = None
    ) -> Response:
        """The detail page again, after undoing the request's changes, with the refusal next to `field` (or as
        the form's message). Another tenant's or a deleted organization stays a 404."""
        status = 400
        if isinstance(failed, Problem):
            if failed.status == 404 and field is None:
                raise failed
            status, failed = failed.status, FormErrors({field: failed.detail}) if field else problem_errors(failed)
        environment_id = self.environment_id  # read before the rollback expires it
        await roll_back(self.db, self.actor)
        acting = await _acting(self.db, self.actor, environment_id)
        errors = failed.errors or {"form": failed.message or "The form has errors."}
        return await _detail(
            self.request, self.db, self.actor, acting, self.organization_id, None, status, errors, values
        )


async def _posted(
    request: Request,
    environment_id: uuid.UUID,
    organization_id: uuid.UUID,
    actor: Actor,
    db: DbSession,
    settings: SettingsDep,
) -> Posted:
    form = await read_form(request, settings)
    return Posted(request, db, actor, await _acting(db, actor, environment_id), organization_id, form)


PostedForm = Annotated[Posted, Depends(_posted)]


@router.post("/{organization_id}/rename")
async def rename(posted: PostedForm) -> Response:
    name = posted.form.get("name", "").strip()
    try:
        if not name:
            raise FormErrors({"name": "This field is required."})
        body = validated(OrganizationUpdate, {"name": name})
        await organizations.rename(posted.db, posted.acting, posted.organization_id, body.name)
    except (FormErrors, Problem) as failed:
        if isinstance(failed, Problem) and failed.status == 404:
            raise
        return await posted.refused(failed, {"name": name}, field="name" if isinstance(failed, Problem) else None)
    return posted.done(f"Organization renamed to {name}.")


@router.post("/{organization_id}/members")
async def add_member(posted: PostedForm) -> Response:
    values = {"member": posted.form.get("member", "").strip(), "role": posted.form.get("role", ORG_USER)}
    try:
        await organizations.get(posted.db, posted.acting, posted.organization_id)  # another's answers 404 first
        account_id = await _end_user_id(posted.db, posted.acting, values["member"], "member")
        body = validated(MemberAdd, {"accountId": str(account_id), "role": values["role"]})
        _, account = await members.add_member(posted.db, posted.acting, posted.organization_id, body)
    except FormErrors as invalid:
        return await posted.refused(invalid, values)
    except Problem as problem:
        if problem.code == "organization_not_found":
            raise
        return await posted.refused(problem, values, field="role" if problem.code == "unknown_role" else "member")
    return posted.done(f"{account.name} added as {body.role}.")


@router.post("/{organization_id}/members/{account_id}/role")
async def change_role(posted: PostedForm, account_id: uuid.UUID) -> Response:
    member = account_id
    try:
        body = validated(MemberRoleChange, {"role": posted.form.get("role", "")})
        await members.change_role(posted.db, posted.acting, posted.organization_id, member, body.role)
    except (FormErrors, Problem) as failed:
        if isinstance(failed, Problem) and failed.status == 404:
            raise
        return await posted.refused(failed, field=f"role-{member}")
    return posted.done(f"Role changed to {body.role}.")


@router.post("/{organization_id}/members/{account_id}/remove")
async def remove_member(posted: PostedForm, account_id: uuid.UUID) -> Response:
    member = account_id
    try:
        await members.remove_member(posted.db, posted.acting, posted.organization_id, member)
    except Problem as problem:
        if problem.status == 404:
            raise
        return await posted.refused(problem, field=f"role-{member}")
    return posted.done("Member removed; their refresh tokens for this organization are revoked.")


# --------------------------------------------------------------------------------------------- delete


@router.get("/{organization_id}/delete")
async def delete_page(
    request: Request, environment_id: uuid.UUID, organization_id: uuid.UUID, actor: Actor, db: DbSession
) -> Response:
    acting = await _acting(db, actor, environment_id)
    organization, _ = await organizations.get(db, acting, organization_id)
    require(policy.administer(acting, None))
    return render(
        request,
        "organizations/delete.html",
        actor=actor,
        section="environments",
        environment=acting.environment,
        organization=organization,
        member_count=await members.count(db, acting, organization_id),
    )


@router.post("/{organization_id}/delete")
async def delete_organization(posted: PostedForm) -> Response:
    await organizations.delete(posted.db, posted.acting, posted.organization_id)
    return redirect(posted.request, list_path(posted.environment_id), "Organization deleted.")
