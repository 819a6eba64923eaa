"""The `sump` command."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from sump.config import Env, Settings, SettingsError, load_settings
from sump.db import migrate
from sump.kit.logging import configure_logging

app = typer.Typer(
    help="Sump: multi-tenant user management and authentication.\n\n"
    "Configuration comes from SUMP_* environment variables (or a .env file); "
    "SUMP_DATABASE_URL chooses the database (default: ./sump.db, SQLite).",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Manage the database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")
import_app = typer.Typer(help="Copy users and tenants from another system into Sump's database.", no_args_is_help=True)
app.add_typer(import_app, name="import")
keys_app = typer.Typer(help="Manage the keys that sign access tokens.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


@keys_app.command()
def rotate(
    environment: Annotated[
        str | None, typer.Option(help="Environment id; without it, every environment is rotated.")
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
    rotated = asyncio.run(rotate_keys(_settings(), target))
    if environment and not rotated:
        typer.echo(f"sump: no environment {environment}", err=True)
        raise typer.Exit(1)
    for environment_id, kid in rotated:
        typer.echo(f"{environment_id}: active key {kid}")


def _settings() -> Settings:
    """The validated settings; logging goes to stderr from here on, leaving stdout to the command."""
    try:
        settings = load_settings()
    except SettingsError as exc:
        typer.echo(f"sump: {exc}", err=True)
        raise typer.Exit(2) from None
    configure_logging(json_lines=settings.env is Env.PROD)
    return settings


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes, each on its own socket at the address.")] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply pending migrations before serving.")
    ] = False,
) -> None:
    """Serve the API (under /api/v1), its docs (/api-docs) and health probes (/health/*)."""
    from sump.serving import serve as run

    settings = _settings()
    if migrate_first:
        migrate.upgrade(settings.database_url)
    status = run(settings, host, port, workers)
    if status:
        raise typer.Exit(status)


@db_app.command()
def upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply migrations up to REVISION (default: the newest)."""
    migrate.upgrade(_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command()
def downgrade(
    revision: Annotated[str, typer.Argument(help="Target revision, or 'base' for empty.")] = "-1",
) -> None:
    """Revert migrations down to REVISION (default: one step back)."""
    url = _settings().database_url
    migrate.downgrade(url, revision)
    typer.echo(f"database at {migrate.current(url)}")


@db_app.command()
def current() -> None:
    """Show the revision the database is at."""
    typer.echo(migrate.current(_settings().database_url))


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
            help="The original Sump's PostgreSQL database, like postgresql://user:password@host:5432/sump. "
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
