"""The `sump` command."""

from __future__ import annotations

import asyncio
import gc
import sys
from collections.abc import Callable
from typing import Annotated

import typer

from sump import __version__
from sump.config import Settings, SettingsError, load_settings, startup_warnings
from sump.kit.logging import configure_logging, get_logger  # structlog through it: see sump.kit.logging

# Plain help (no rich boxes), and a metavar on every option that takes a value: typer's rich help would show
# `<str>`, `<int>` and `<bool>` in their place.
PLAIN: dict[str, object] = {"no_args_is_help": True, "rich_markup_mode": None}
app = typer.Typer(
    help="Sump: multi-tenant user management and authentication.\n\n"
    "Configuration comes from SUMP_* environment variables (or a .env file); "
    "SUMP_DATABASE_URL chooses the database (default: ./sump.db, SQLite).",
    add_completion=False,
    **PLAIN,  # type: ignore[arg-type]
)
db_app = typer.Typer(help="Manage the database schema (Alembic migrations).", **PLAIN)  # type: ignore[arg-type]
app.add_typer(db_app, name="db")
import_app = typer.Typer(help="Copy users and tenants from another system into Sump's database.", **PLAIN)  # type: ignore[arg-type]
app.add_typer(import_app, name="import")
keys_app = typer.Typer(help="Manage the keys that sign access tokens.", **PLAIN)  # type: ignore[arg-type]
app.add_typer(keys_app, name="keys")
tenants_app = typer.Typer(help="Manage tenants as the operator.", **PLAIN)  # type: ignore[arg-type]
app.add_typer(tenants_app, name="tenants")
secret_app = typer.Typer(help="Rotate SUMP_SECRET_KEY (docs/secret-rotation.md).", **PLAIN)  # type: ignore[arg-type]
app.add_typer(secret_app, name="secret")
log = get_logger("sump")


def _version(show: bool) -> None:
    if show:
        typer.echo(f"sump {__version__}")
        raise typer.Exit


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print the version and exit.")
    ] = False,
) -> None:
    del version  # handled by its callback, before any command


@keys_app.command()
def rotate(
    environment: Annotated[
        str | None,
        typer.Option(metavar="ID", help="Environment id; without it, every environment is rotated."),
    ] = None,
) -> None:
    """Promote each environment's next signing key now and publish a new next one. Tokens signed before
    keep verifying until they expire."""
    import asyncio
    import uuid

    from sump.tokens.rotation import rotate_keys

    try:
        target = uuid.UUID(environment) if environment else None
    except ValueError:
        typer.echo("sump: --environment must be an environment id (a UUID)", err=True)
        raise typer.Exit(2) from None
    rotated = asyncio.run(rotate_keys(_newest(_settings()), target))
    if environment and not rotated:
        typer.echo(f"sump: no environment {environment}", err=True)
        raise typer.Exit(1)
    for environment_id, kid in rotated:
        typer.echo(f"{environment_id}: active key {kid}")


@tenants_app.command("create")
def create_tenant(
    name: Annotated[str, typer.Option(metavar="NAME", help="The tenant's name.")],
    owner_email: Annotated[str, typer.Option(metavar="EMAIL", help="The owner's email address.")],
    owner_username: Annotated[str, typer.Option(metavar="USERNAME", help="The owner's username.")],
    owner_name: Annotated[str, typer.Option(metavar="NAME", help="The owner's full name.")],
    owner_phone: Annotated[str | None, typer.Option(metavar="PHONE", help="The owner's phone number.")] = None,
    environment: Annotated[
        str | None, typer.Option(metavar="NAME", help="The first environment's name (default: default).")
    ] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the owner's password from the first line of stdin.")
    ] = False,
) -> None:
    """Create a tenant with its owner and a first environment, also while SUMP_TENANT_SIGNUP is off. The owner
    signs in with the password given (asked for twice, unless --password-stdin). Prints the new ids."""
    from pydantic import ValidationError

    from sump.kit.errors import Problem, field_message
    from sump.onboarding.schemas import TenantCreate
    from sump.onboarding.service import create_by_operator

    settings = _newest(_settings())
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Owner's password", hide_input=True, confirmation_prompt=True, err=True)
    owner = {"name": owner_name, "email": owner_email, "username": owner_username, "password": password}
    body = {"tenant": {"name": name}, "account": owner | ({"phone": owner_phone} if owner_phone else {})}
    first = {"environment": {"name": environment}} if environment is not None else {}
    try:
        added = asyncio.run(create_by_operator(settings, TenantCreate.model_validate(body | first)))
    except ValidationError as exc:
        for error in exc.errors():
            where = ".".join(str(part) for part in error["loc"])
            typer.echo(f"sump: {_OPTIONS.get(where, where)}: {field_message(dict(error))}", err=True)
        raise typer.Exit(2) from None
    except Problem as problem:
        fields = {_OPTIONS.get(f"account.{field}", field): message for field, message in (problem.errors or {}).items()}
        for line in [f"{where}: {message}" for where, message in fields.items()] or [problem.detail]:
            typer.echo(f"sump: {line}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"tenant {added.tenant.id} {added.tenant.name}")
    typer.echo(f"owner {added.owner.id} {added.owner.email}")
    typer.echo(f"environment {added.environment.id} {added.environment.name}")


def _printable(name: str) -> str:
    """A name as one line of the operator's terminal: what names may no longer hold (a name stored before it was
    refused, or imported) is written as escapes, so none starts a line or a terminal sequence of its own, nor
    turns the rest of the line around."""
    import re

    from sump.kit.schemas import UNFIT

    def escaped(found: re.Match[str]) -> str:
        code = ord(found.group())
        return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"

    return UNFIT.sub(escaped, name)


@tenants_app.command("list")
def list_tenants() -> None:
    """Print every tenant, oldest first, one a line, tab-separated: its id, when it was created (UTC), its numbers
    of environments, tenant accounts and end users, and its name."""
    from sump.tenants.operator import listing

    for one in asyncio.run(listing(_newest(_settings()))):
        created = one.tenant.created_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        counts = f"{one.environments}\t{one.accounts}\t{one.end_users}"
        typer.echo(f"{one.tenant.id}\t{created}\t{counts}\t{_printable(one.tenant.name)}")


@tenants_app.command("delete")
def delete_tenant(
    tenant_id: Annotated[str, typer.Argument(metavar="TENANT_ID", hidden=True)],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask before deleting.")] = False,
) -> None:
    """Delete the tenant TENANT_ID with everything in it (environments, accounts, end users, organizations,
    clients, sessions and keys), as its owner would; the audit log keeps the deletion, by the operator. Asks
    first, unless --yes."""
    import uuid

    from sump.tenants.operator import delete, find

    settings = _newest(_settings())
    try:
        target = uuid.UUID(tenant_id)
    except ValueError:
        typer.echo("sump: TENANT_ID must be a tenant id (a UUID)", err=True)
        raise typer.Exit(2) from None
    found = asyncio.run(find(settings, target))
    if found is None:
        typer.echo(f"sump: no tenant {target}", err=True)
        raise typer.Exit(1)
    if not yes:
        held = f"{found.environments} environments, {found.accounts} tenant accounts, {found.end_users} end users"
        name = _printable(found.tenant.name)
        typer.echo(f"Delete the tenant {name} ({target}) and its {held}? [y/N] ", err=True, nl=False)
        if sys.stdin.readline().strip().lower() not in {"y", "yes"}:
            typer.echo("sump: nothing deleted", err=True)
            raise typer.Exit(1)
    deleted = asyncio.run(delete(settings, target))
    if deleted is None:  # deleted meanwhile
        typer.echo(f"sump: no tenant {target}", err=True)
        raise typer.Exit(1)
    typer.echo(f"deleted tenant {deleted.id} {_printable(deleted.name)}")


# Which option holds a field of `POST /api/v1/tenants`, for the command's error lines.
_OPTIONS = {
    "tenant.name": "--name",
    "account.name": "--owner-name",
    "account.email": "--owner-email",
    "account.username": "--owner-username",
    "account.phone": "--owner-phone",
    "account.password": "the password",
    "environment.name": "--environment",
}


@secret_app.command("rotate")
def rotate_secret() -> None:
    """Re-seal every signing key and TOTP seed under SUMP_SECRET_KEY (the new secret), opening them with
    SUMP_PREVIOUS_SECRET_KEYS (the old one), in one transaction; count the recovery codes that still need the
    old secret. Safe to run again. Exits 1, changing nothing, when a value opens under no listed secret."""
    from sump.secret_rotation import rotate_secret as run

    settings = _newest(_settings())
    rotation = asyncio.run(run(settings))
    if not rotation.complete:
        typer.echo(f"sump: {rotation.render(settings)}", err=True)
        raise typer.Exit(1)
    typer.echo(rotation.render(settings))


def _settings(*, schema_only: bool = False) -> Settings:
    """The validated settings; logging goes to stderr from here on, leaving stdout to the command. What is
    allowed but probably not meant (a misspelt variable) is said once, here."""
    try:
        settings = load_settings(schema_only=schema_only)
    except SettingsError as exc:
        typer.echo(f"sump: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(json_lines=settings.json_logs)
    for warning in startup_warnings(settings):
        log.warning(warning)
    return settings


def _newest(settings: Settings) -> Settings:
    """The settings of a command that works on the application's tables, once its database is found at the
    newest migration (else one line and exit status 1)."""
    from sump.db import migrate

    _migrated(lambda: migrate.ensure_newest(settings.database_url))
    return settings


def _migrated(step: Callable[[], str]) -> str:
    """Runs a migration step; a database that cannot be used, or a revision that does not exist, is one line
    on stderr and exit status 1 (2 for the revision)."""
    from sump.db import migrate  # Alembic only for the commands that migrate, not in a serving process

    try:
        return step()
    except migrate.MigrationError as exc:
        typer.echo(f"sump: {exc}", err=True)
        raise typer.Exit(2 if exc.usage else 1) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(metavar="HOST", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.")] = 8080,
    workers: Annotated[
        int, typer.Option(min=1, metavar="N", help="Worker processes, each on its own socket at the address.")
    ] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply pending migrations before serving.")
    ] = False,
) -> None:
    """Serve the API (under /api/v1), its docs (/api-docs) and health probes (/health/*)."""
    gc.disable()  # until the application serves: see sump.serving.collect_garbage_from_now_on
    from sump.serving import serve as run

    settings = _settings()
    if migrate_first:
        from sump.db import migrate

        _migrated(lambda: migrate.upgrade(settings.database_url))
    _refuse_a_secret_that_opens_no_key(settings)
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    log.info(f"listening on {url} with {workers} worker{'s' if workers > 1 else ''}", url=url, workers=workers)
    status = run(settings, host, port, workers)
    if status:
        raise typer.Exit(status)


def _refuse_a_secret_that_opens_no_key(settings: Settings) -> None:
    """A server whose secret cannot open the signing keys would answer every token request 503: it does not
    start (exit status 2), and says which secret it needs."""
    from sump.tokens.rotation import secret_opens_keys

    readers = (settings.secret_key, *settings.previous_secret_keys)  # a previous secret opens them until rotated
    if not any(asyncio.run(secret_opens_keys(settings.model_copy(update={"secret_key": one}))) for one in readers):
        which = "neither SUMP_SECRET_KEY nor SUMP_PREVIOUS_SECRET_KEYS holds" if settings.previous_secret_keys else ""
        typer.echo(
            f"sump: {which or 'SUMP_SECRET_KEY is not'} the secret that sealed the signing keys in this database; "
            "serve it with that secret",
            err=True,
        )
        raise typer.Exit(2)


@db_app.command()
def upgrade(revision: Annotated[str, typer.Argument(metavar="REVISION", hidden=True)] = "head") -> None:
    """Apply migrations up to REVISION (default: head, the newest). A database already past REVISION is left
    as it is and the command exits with status 1: going back is `sump db downgrade`."""
    from sump.db import migrate

    url = _settings(schema_only=True).database_url
    typer.echo(f"database at {_migrated(lambda: migrate.upgrade(url, revision))}")


@db_app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(metavar="REVISION", hidden=True)] = "-1",
) -> None:
    """Revert migrations down to REVISION (default: -1, one step back; base empties the database). A database
    before REVISION is left as it is and the command exits with status 1."""
    from sump.db import migrate

    url = _settings(schema_only=True).database_url
    typer.echo(f"database at {_migrated(lambda: migrate.downgrade(url, revision))}")


@db_app.command()
def current() -> None:
    """Show the revision the database is at."""
    from sump.db import migrate

    url = _settings(schema_only=True).database_url
    typer.echo(_migrated(lambda: migrate.current(url)))


@import_app.command(
    "original",
    help="Copy everything from an original Sump (the Node.js service) into Sump's database (SUMP_DATABASE_URL).\n\n"
    "Imported, keeping ids: tenants, environments, tenant accounts (with their role on their own tenant) and end "
    "users (environment accounts), with custom properties and bcrypt password hashes, so people sign in with the "
    "passwords they have; each hash becomes argon2id at the next sign-in. Emails, usernames and phone numbers are "
    "normalised as Sump stores them.\n\n"
    "Not imported: sessions and password reset tokens (the original stored them in plain text), so everyone signs "
    "in again; role entries naming another tenant (a privilege-escalation bug of the original). Rows that cannot be "
    "imported (no tenant or environment, invalid or duplicate identifiers) are skipped and listed with the reason."
    "\n\n"
    "Safe to run twice: rows already in Sump are left untouched and reported as already present. Run "
    "`sump db upgrade` first. Exits non-zero when the original database cannot be read or a tenant fails.",
)
def import_original(
    source: Annotated[
        str,
        typer.Option(
            "--from",
            metavar="POSTGRESQL_URL",
            help="The original Sump's PostgreSQL database, like postgresql://user@host:5432/sump, with the "
            "password in PGPASSWORD or ~/.pgpass rather than in the URL (where ps and the shell's history show it). "
            "It is only read, never changed.",
        ),
    ],
) -> None:
    from sump.importer.original import ImportFailed
    from sump.importer.original import import_original as run_import

    settings = _settings()
    try:
        report = asyncio.run(run_import(source, settings.database_url))
    except ImportFailed as exc:
        typer.echo(f"sump: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(report.render())
    if not report.complete:
        typer.echo("sump: some tenants were not imported (see FAILED above); fix and run again.", err=True)
        raise typer.Exit(1)
