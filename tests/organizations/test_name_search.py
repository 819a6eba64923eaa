"""Organizations found by a prefix of their name beyond ASCII (the console's search), the same on both
databases: the name and the prefix are folded alike (NFKC, then case-folded)."""

from __future__ import annotations

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from sump.organizations.service import organizations
from tests.organizations.support import create_org, orgs_url
from tests.organizations.test_console_reads import acting
from tests.support import TenantWorld
from tests.tenant_accounts.test_refusals import actor_of

COMBINING_ACUTE = "\u0301"


async def test_organizations_are_found_by_a_folded_prefix_of_their_name(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    admin = await world.add_end_user(world.environment_id)
    straße = await create_org(client, admin, "Straße GmbH")
    élodie = await create_org(client, admin, "Élodie SARL")
    zoé = await create_org(client, admin, f"Zoe{COMBINING_ACUTE} Ltd")
    renée = await create_org(client, admin, "Renée SA")
    await create_org(client, admin, "Other Inc")
    owner = await acting(db, await actor_of(db, world.owner.account_id), world.environment_id)

    async def found(q: str) -> list[str]:
        return [str(organization.id) for organization, _ in await organizations.page(db, owner, None, 10, q=q)]

    for q in ("strasse", "STRASSE", "straße", "Straße"):
        assert await found(q) == [straße], q
    for q in ("élodie", "ÉLODIE", "Élodie"):
        assert await found(q) == [élodie], q
    for q in ("zoé", "ZOÉ", f"zoe{COMBINING_ACUTE}"):
        assert await found(q) == [zoé], q
    for q in (f"rene{COMBINING_ACUTE}e", "RENÉE"):
        assert await found(q) == [renée], q
    assert await found("%") == []


async def test_a_renamed_organization_is_found_by_the_new_name_only(
    client: httpx.AsyncClient, world: TenantWorld, db: AsyncSession
) -> None:
    admin = await world.add_end_user(world.environment_id)
    organization = await create_org(client, admin, "Straße Alt")
    owner = await acting(db, await actor_of(db, world.owner.account_id), world.environment_id)

    async def found(q: str) -> list[str]:
        return [str(organization.id) for organization, _ in await organizations.page(db, owner, None, 10, q=q)]

    assert await found("strasse") == [organization]
    renamed = await client.patch(
        orgs_url(world.environment_id, organization), json={"name": "Élodie Neu"}, headers=admin.auth
    )
    assert renamed.status_code == 204, renamed.text
    assert await found("strasse") == []
    assert await found("ÉLODIE") == [organization]
