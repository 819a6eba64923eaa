"""The `sump` command."""

from __future__ import annotations

from typing import Annotated

import typer

from sump.config import Settings, SettingsError, load_settings
from sump.db import migrate

app = typer.Typer(
    help="Sump: multi-tenant user management and authentication.\n\n"
    "Configuration comes from SUMP_* environment variables (or a .env file); "
    "SUMP_DATABASE_URL chooses the database (default: ./sump.db, SQLite).",
    no_args_is_help=True,
    add_completion=False,
)
db_app = typer.Typer(help="Manage the database schema (Alembic migrations).", no_args_is_help=True)
app.add_typer(db_app, name="db")


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        typer.echo(f"sump: {exc}", err=True)
        raise typer.Exit(2) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes (each has its own hashing pool).")] = 1,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Apply pending migrations before serving.")
    ] = False,
) -> None:
    """Serve the API (under /api/v1), its docs (/api-docs) and health probes (/health/*)."""
    import uvicorn

    settings = _settings()
    if migrate_first:
        migrate.upgrade(settings.database_url)
    uvicorn.run(
        "sump.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        timeout_graceful_shutdown=20,
        log_level="warning",
    )


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
    migrate.downgrade(_settings().database_url, revision)
    typer.echo(f"database at {revision}")


@db_app.command()
def current() -> None:
    """Show the revision the database is at."""
    typer.echo(migrate.current(_settings().database_url))
