from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from sump.accounts.schemas import LinkToken
from sump.db.tables.environment_accounts import EnvironmentAccount
from sump.db.tables.organizations import ORG_USER, Membership, Organization, Permission, Role
from sump.kit.identifiers import Email, NewUsername, Phone
from sump.kit.schemas import ContainerName, Description, NewPassword, PersonName, RequestModel, ResponseModel

RoleName = Annotated[
    str,
    StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$"),
    Field(description="A role of the environment, such as ORG_ADMIN, ORG_USER or READ_ONLY.", examples=[ORG_USER]),
]
PermissionName = Annotated[
    str,
    StringConstraints(max_length=100, pattern=r"^[a-z][a-z0-9_.-]*(:[a-z][a-z0-9_.-]*)+$"),
    Field(description="`resource:action`, lower case.", examples=["projects:read"]),
]


class OrganizationCreate(RequestModel):
    name: ContainerName
    admin_account_id: uuid.UUID | None = Field(
        default=None,
        description="Tenant accounts only: the end user who becomes the first ORG_ADMIN. An end user who creates "
        "an organization becomes its ORG_ADMIN.",
    )


class OrganizationUpdate(RequestModel):
    name: ContainerName


class OrganizationView(ResponseModel):
    id: uuid.UUID
    tenant_id: uuid.UUID
    environment_id: uuid.UUID
    name: str
    role: str | None = Field(description="The calling end user's role in it; null for tenant accounts.")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, organization: Organization, role: str | None = None) -> OrganizationView:
        return cls(
            id=organization.id,
            tenant_id=organization.tenant_id,
            environment_id=organization.environment_id,
            name=organization.name,
            role=role,
            created_at=organization.created_at,
            updated_at=organization.updated_at,
        )


class MemberAdd(RequestModel):
    account_id: uuid.UUID = Field(description="An end user of the same environment.")
    role: RoleName = ORG_USER


class MemberRoleChange(RequestModel):
    role: RoleName


class MemberView(ResponseModel):
    account_id: uuid.UUID
    organization_id: uuid.UUID
    role: str
    name: str
    email: str
    username: str
    created_at: datetime = Field(description="When the account joined the organization.")

    @classmethod
    def of(cls, membership: Membership, account: EnvironmentAccount) -> MemberView:
        return cls(
            account_id=account.id,
            organization_id=membership.organization_id,
            role=membership.role,
            name=account.name,
            email=account.email,
            username=account.username,
            created_at=membership.created_at,
        )


class PermissionCreate(RequestModel):
    name: PermissionName
    description: Description = ""


class PermissionView(ResponseModel):
    name: str
    description: str
    created_at: datetime

    @classmethod
    def of(cls, permission: Permission) -> PermissionView:
        return cls(name=permission.name, description=permission.description, created_at=permission.created_at)


class RoleCreate(RequestModel):
    name: RoleName
    description: Description = ""
    permissions: list[PermissionName] = Field(default_factory=list, max_length=200)


class RoleUpdate(RequestModel):
    description: Description | None = None
    permissions: list[PermissionName] | None = Field(default=None, max_length=200)


class RoleView(ResponseModel):
    name: str
    description: str
    permissions: list[str]
    builtin: bool
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, role: Role) -> RoleView:
        return cls(
            name=role.name,
            description=role.description,
            permissions=sorted(role.permissions),
            builtin=role.builtin,
            created_at=role.created_at,
            updated_at=role.updated_at,
        )


class OrganizationInvite(RequestModel):
    """Who to invite, by email, and the organization role they get on accepting."""

    email: Email
    role: RoleName = ORG_USER


class AcceptOrganizationInvitation(RequestModel):
    """The invitation's token (from the emailed link), accepted by the signed-in end user it was sent to."""

    token: LinkToken


class InvitedSignup(RequestModel):
    """Someone new signs up through an organization's invitation: its token and their profile; their email is
    the invited address."""

    token: LinkToken
    name: PersonName
    username: NewUsername
    password: NewPassword
    phone: Phone | None = None


class Joined(ResponseModel):
    organization_id: uuid.UUID
    role: str
