"""The rows put in an original Sump database: two tenants whose rows cover every rule of the import."""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import bcrypt

from sump.importer.original import TableCounts

OWNER_PASSWORD = "owner's old bcrypt password"
EVE_PASSWORD = "eve wants every tenant"
NORA_PASSWORD = "nora has no roles at all"
DAN_PASSWORD = "dan is disabled for good"
BOB_PASSWORD = "bob owns the other tenant"
ZOE_PASSWORD = "zoe in production"
ZOE_OTHER_PASSWORD = "zoe in the second production"
YAN_PASSWORD = "yan is a disabled end user"
OTHER_PASSWORD = "some other password 123"


def bcrypt_hash(password: str, prefix: str = "$2b$") -> str:
    """A hash as the original made it (cost 4 here, for speed); `$2a$` and `$2y$` are the same algorithm."""
    return prefix + bcrypt.hashpw(password.encode(), bcrypt.gensalt(4)).decode()[4:]


@dataclass
class Original:
    """An original Sump database and the ids of the rows put in it, by name."""

    dsn: str
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    hashes: dict[str, str] = field(default_factory=dict)
    created: dict[str, datetime] = field(default_factory=dict)

    def __getitem__(self, key: str) -> uuid.UUID:
        return self.ids[key]


class Seeder:
    """Inserts rows the way the original did; each row is a minute younger than the one before."""

    def __init__(self, connection: Any, original: Original) -> None:
        self.connection = connection
        self.original = original
        self.clock = datetime(2023, 5, 1, 9, 0, tzinfo=UTC)

    def _new(self, key: str) -> tuple[uuid.UUID, datetime]:
        self.clock += timedelta(minutes=1)
        row_id = uuid.uuid4()
        self.original.ids[key] = row_id
        self.original.created[key] = self.clock
        return row_id, self.clock

    def _id(self, key: str | None) -> uuid.UUID | None:
        return None if key is None else self.original.ids[key]

    async def tenant(self, key: str, name: str, properties: dict[str, Any]) -> None:
        row_id, at = self._new(key)
        await self.connection.execute(
            "INSERT INTO tenant (id, name, custom_properties, created_at, updated_at) VALUES ($1, $2, $3, $4, $5)",
            row_id,
            name,
            json.dumps(properties),
            at,
            at + timedelta(seconds=30),
        )

    async def environment(self, key: str, tenant: str | None, name: str, properties: dict[str, Any]) -> None:
        row_id, at = self._new(key)
        await self.connection.execute(
            "INSERT INTO environment (id, tenant_id, name, custom_properties, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $5)",
            row_id,
            self._id(tenant),
            name,
            json.dumps(properties),
            at,
        )

    async def tenant_account(
        self,
        key: str,
        tenant: str | None,
        email: str,
        username: str,
        *,
        password: str | None = OTHER_PASSWORD,
        roles: Sequence[tuple[str, str]] = (),
        phone: str | None = None,
        disabled: bool = False,
    ) -> None:
        row_id, at = self._new(key)
        password_hash = bcrypt_hash(password) if password is not None else None
        if password_hash is not None:
            self.original.hashes[key] = password_hash
        elements = [{"role": role, "target": "tenant", "targetId": str(self._id(on))} for role, on in roles]
        await self.connection.execute(
            "INSERT INTO tenant_account (id, tenant_id, email, email_verified, phone, phone_verified, username, name, "
            "avatar_url, password_hash, roles, disabled, disabled_at, created_at, updated_at) "
            "VALUES ($1, $2, $3, true, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $13)",
            row_id,
            self._id(tenant),
            email,
            phone,
            phone is not None,
            username,
            f"Person {username}",
            f"https://img.example.com/{username}.png",
            password_hash,
            json.dumps(elements),
            disabled,
            at if disabled else None,
            at,
        )

    async def end_user(
        self,
        key: str,
        environment: str | None,
        email: str,
        username: str,
        *,
        password: str = OTHER_PASSWORD,
        hash_prefix: str = "$2b$",
        phone: str | None = None,
        disabled: bool = False,
        properties: dict[str, Any] | None = None,
    ) -> None:
        row_id, at = self._new(key)
        password_hash = bcrypt_hash(password, hash_prefix)
        self.original.hashes[key] = password_hash
        await self.connection.execute(
            "INSERT INTO environment_account (id, environment_id, email, phone, username, name, password_hash, "
            "custom_properties, disabled, disabled_at, created_at, updated_at) "
            "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $11)",
            row_id,
            self._id(environment),
            email,
            phone,
            username,
            f"End user {username}",
            password_hash,
            json.dumps(properties or {}),
            disabled,
            at if disabled else None,
            at,
        )

    async def left_behind(self) -> None:
        """Sessions and a reset token, stored in plain text by the original: never imported."""
        ids = self.original.ids
        tomorrow = self.clock + timedelta(days=1)
        for account, context, kind in (("owner", "acme", "tenant"), ("zoe", "acme_prod", "environment")):
            await self.connection.execute(
                "INSERT INTO session (token, account_type, account_id, context_type, context_id, expires_at) "
                "VALUES ($1, $2, $3, $4, $5, $6)",
                uuid.uuid4().hex * 2,
                f"{kind}_account",
                ids[account],
                kind,
                ids[context],
                tomorrow,
            )
        await self.connection.execute(
            "INSERT INTO password_reset_token (token, account_type, account_id, expires_at) VALUES ($1, $2, $3, $4)",
            uuid.uuid4().hex * 2,
            "tenant_account",
            ids["nora"],
            tomorrow,
        )


async def seed(seeder: Seeder) -> None:
    await seeder.tenant("acme", "Acme", {"plan": "pro", "feature_flags": {"beta": True}})
    await seeder.tenant("globex", "Globex", {})
    await seeder.environment("acme_prod", "acme", "Production", {"region": "eu-west"})
    await seeder.environment("acme_prod_again", "acme", "Production", {"region": "us-east"})
    await seeder.environment("acme_staging", "acme", "Staging", {})
    await seeder.environment("globex_dev", "globex", "Development", {"debug": True})
    await seeder.environment("lost", None, "Lost", {})

    account = seeder.tenant_account
    await account(
        "owner",
        "acme",
        "Olivia@Acme.example.com",
        "Olivia.Owner",
        password=OWNER_PASSWORD,
        roles=[("owner", "acme")],
        phone="+1 (415) 555-0100",
    )
    await account("admin", "acme", "adam@acme.example.com", "adam", roles=[("admin", "acme")])
    # The original's bug: an element naming another tenant let this account act there.
    await account(
        "eve",
        "acme",
        "eve@acme.example.com",
        "eve",
        password=EVE_PASSWORD,
        roles=[("user", "acme"), ("owner", "globex")],
    )
    await account("nora", "acme", "nora@acme.example.com", "nora", password=NORA_PASSWORD)
    await account("pat", "acme", "pat@acme.example.com", "pat", password=None, roles=[("user", "acme")])
    await account("ann", "acme", "Ann@X.com", "ann", roles=[("user", "acme")])
    await account("ann_again", "acme", "ann@x.com", "ann.again", roles=[("user", "acme")])
    await account("bad_email", "acme", "not-an-email", "bad.email", roles=[("user", "acme")])
    await account("dan", "acme", "dan@acme.example.com", "dan", password=DAN_PASSWORD, disabled=True)
    await account("sam_acme", "acme", "Sam@Shared.example.com", "Sam", roles=[("admin", "acme")])
    await account("bob", "globex", "bob@globex.example.com", "bob", password=BOB_PASSWORD, roles=[("owner", "globex")])
    await account("sam_globex", "globex", "sam@shared.example.com", "sam", roles=[("user", "globex")])
    await account("orphan_account", None, "orphan@acme.example.com", "orphan")

    user = seeder.end_user
    await user(
        "zoe",
        "acme_prod",
        "Zoe@Users.example.com",
        "Zoe",
        password=ZOE_PASSWORD,
        hash_prefix="$2a$",
        properties={"tier": "gold", "feature_flags": {"beta": True}},
    )
    await user("zoe_again", "acme_prod", "ZOE@USERS.EXAMPLE.COM", "zoe.again")
    await user(
        "zoe_other",
        "acme_prod_again",
        "zoe@users.example.com",
        "zoe",
        password=ZOE_OTHER_PASSWORD,
        phone="+44 20 7946 0958",
    )
    await user("bad_phone", "acme_staging", "short.phone@users.example.com", "short.phone", phone="12")
    await user("yan", "globex_dev", "yan@users.example.com", "yan", password=YAN_PASSWORD, disabled=True)
    await user("orphan_user", None, "orphan@users.example.com", "orphan")
    await user("lost_user", "lost", "lost@users.example.com", "lost")
    await seeder.left_behind()


EXPECTED = {
    "tenant": TableCounts(imported=2, already_present=0, skipped=0),
    "environment": TableCounts(imported=4, already_present=0, skipped=1),
    "tenant_account": TableCounts(imported=10, already_present=0, skipped=3),
    "environment_account": TableCounts(imported=3, already_present=0, skipped=4),
}
SKIPPED = {
    "lost": "orphan: it belongs to no tenant",
    "orphan_account": "orphan: it belongs to no tenant",
    "ann_again": "duplicate email 'ann@x.com' after normalisation",
    "bad_email": "invalid email 'not-an-email'",
    "zoe_again": "duplicate email 'zoe@users.example.com' after normalisation",
    "bad_phone": "invalid phone '12'",
    "orphan_user": "orphan: it belongs to no environment",
    "lost_user": "orphan: its environment",
}
