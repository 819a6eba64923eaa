"""`sump secret rotate`: every value sealed under a previous secret (signing keys, TOTP seeds) sealed anew under
SUMP_SECRET_KEY in one transaction, and what still depends on a previous secret (recovery codes, whose digests
cannot be re-keyed without the codes). The procedure is docs/secret-rotation.md.

An operator command over every tenant, as `sump keys rotate` is: each update is a compare-and-set on the sealed
value it read, so a row that a server changed meanwhile is left as that server wrote it (under the current
secret, or found by the next run)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

import sump.db.tables  # noqa: F401 (every table, so foreign keys resolve)
from sump.config import Settings
from sump.db.engine import make_engine, make_sessionmaker
from sump.db.tables.factors import Factor, RecoveryCode
from sump.db.tables.tokens import SigningKey
from sump.factors import codes
from sump.factors.service import resealed_seed
from sump.kit.sealing import Unreadable
from sump.tokens import keys

log = structlog.get_logger("sump.secret")


@dataclass
class Rotation:
    signing_keys: int = 0  # re-sealed under the current secret by this run
    totp_seeds: int = 0
    already_current: int = 0  # sealed under the current secret before this run
    unreadable: list[str] = field(default_factory=list)  # opened by no listed secret: nothing was changed
    codes: int = 0  # unused recovery codes whose digest a previous secret made
    code_accounts: int = 0

    @property
    def complete(self) -> bool:
        return not self.unreadable

    def render(self, settings: Settings) -> str:
        if not self.complete:
            listed = "" if settings.previous_secret_keys else " (SUMP_PREVIOUS_SECRET_KEYS is empty)"
            return "\n".join(
                [
                    f"nothing was changed: {len(self.unreadable)} sealed values open under neither SUMP_SECRET_KEY "
                    f"nor SUMP_PREVIOUS_SECRET_KEYS{listed}; list the secret that sealed them as previous",
                    *(f"  {one}" for one in self.unreadable),
                ]
            )
        days = settings.session_absolute_ttl / 86400
        return "\n".join(
            [
                f"re-sealed under SUMP_SECRET_KEY: {self.signing_keys} signing keys, {self.totp_seeds} TOTP seeds "
                f"({self.already_current} already were)",
                f"still made by a previous secret: {self.codes} unused recovery codes of {self.code_accounts} "
                "accounts (they stop working when the previous secret is dropped; run this again to count them)",
                "cookies and form tokens signed by a previous secret are accepted while it is listed: sessions end "
                f"within SUMP_SESSION_ABSOLUTE_TTL ({days:g} days) of this rotation",
            ]
        )


async def rotate_secret(settings: Settings) -> Rotation:
    """Re-seals in one transaction, or changes nothing when some value opens under no listed secret."""
    engine = make_engine(settings.database_url)
    try:
        async with make_sessionmaker(engine)() as db:
            async with db.begin():
                rotation = await _reseal(db, settings)
            await _count_codes(db, settings, rotation)
    finally:
        await engine.dispose()
    log.info(
        "secret rotated" if rotation.complete else "secret not rotated",
        signing_keys=rotation.signing_keys,
        totp_seeds=rotation.totp_seeds,
        unreadable=len(rotation.unreadable),
        recovery_codes_of_a_previous_secret=rotation.codes,
    )
    return rotation


async def _reseal(db: AsyncSession, settings: Settings) -> Rotation:
    """Every sealed value opened first (nothing is written unless all open), then each one that a previous
    secret opened written anew."""
    rotation = Rotation()
    signing_keys: list[tuple[uuid.UUID, bytes, bytes | None]] = []
    seeds: list[tuple[uuid.UUID, bytes, bytes | None]] = []
    for key_id, kid, sealed in (await db.execute(select(SigningKey.id, SigningKey.kid, SigningKey.private_key))).all():
        try:
            signing_keys.append(
                (key_id, sealed, keys.resealed(settings.secret_key, settings.previous_secret_keys, kid, sealed))
            )
        except Unreadable:
            rotation.unreadable.append(f"signing key {kid}")
    for factor_id, seed in (await db.execute(select(Factor.id, Factor.secret))).all():
        if seed is None:  # a passkey keeps no secret
            continue
        try:
            seeds.append((factor_id, seed, resealed_seed(settings, factor_id, seed)))
        except Unreadable:
            rotation.unreadable.append(f"factor {factor_id}")
    if rotation.unreadable:
        return rotation
    for key_id, was, fresh in signing_keys:
        if fresh is None:
            rotation.already_current += 1
            continue
        statement = update(SigningKey).where(SigningKey.id == key_id, SigningKey.private_key == was)
        result = await db.execute(statement.values(private_key=fresh))
        rotation.signing_keys += result.rowcount  # type: ignore[attr-defined]
    for factor_id, was, fresh in seeds:
        if fresh is None:
            rotation.already_current += 1
            continue
        result = await db.execute(
            update(Factor).where(Factor.id == factor_id, Factor.secret == was).values(secret=fresh)
        )
        rotation.totp_seeds += result.rowcount  # type: ignore[attr-defined]
    return rotation


async def _count_codes(db: AsyncSession, settings: Settings, rotation: Rotation) -> None:
    """Unused recovery codes whose digest does not carry the current secret's tag (`codes.tag`)."""
    stale = select(RecoveryCode.account_type, RecoveryCode.account_id).where(
        RecoveryCode.used_at.is_(None),
        func.substr(RecoveryCode.code_hash, 1, codes.TAG_BYTES) != codes.tag(settings.secret_key),
    )
    rotation.codes = int(await db.scalar(select(func.count()).select_from(stale.subquery())) or 0)
    accounts = stale.distinct().subquery()
    rotation.code_accounts = int(await db.scalar(select(func.count()).select_from(accounts)) or 0)
