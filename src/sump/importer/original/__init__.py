"""`sump import original`: copies the database of the original Sump (Node.js, PostgreSQL) into Sump's database.

What is copied, keeping every id and timestamp:

- `tenant` → Tenant (name, custom properties);
- `environment` → Environment; names are unique per tenant in Sump, so a repeated name gets " (2)", " (3)" …;
- `tenant_account` → TenantAccount, with the role its `roles` JSON gives it on its own tenant ("user" when none);
  role elements naming another tenant (the original's privilege-escalation bug) or an environment are dropped;
- `environment_account` → EnvironmentAccount (its tenant is its environment's), custom properties kept.

Identifiers are stored normalised, as Sump stores them (email NFKC and lower-cased, username case-folded, phone
E.164). bcrypt hashes are kept as they are and become argon2id at the account's next sign-in. Rows that cannot be
imported (orphans, invalid identifiers, identifiers that collide after normalisation) are skipped and listed with
the reason. Sessions and password reset tokens are not imported: the original stored them in plain text.

Safe to run again: a row whose id is already in Sump is counted as already present and left untouched. The original
database is only read, in one repeatable-read snapshot; Sump's database is written in one transaction per tenant.
"""

from __future__ import annotations

from sump.importer.original.errors import ImportFailed, SourceError, TargetError
from sump.importer.original.report import ImportReport, RowNote, TableCounts
from sump.importer.original.run import import_original
from sump.importer.original.source import describe

__all__ = [
    "ImportFailed",
    "ImportReport",
    "RowNote",
    "SourceError",
    "TableCounts",
    "TargetError",
    "describe",
    "import_original",
]
