"""Alembic, driven from code: `sump db upgrade|downgrade|current` and the test suite use these."""

from __future__ import annotations

import io

from alembic import command
from alembic.config import Config

# Alembic resolves `package:directory` through importlib.resources: the scripts installed with the package.
MIGRATIONS = "sump:migrations"


def alembic_config(database_url: str, output: io.StringIO | None = None) -> Config:
    config = Config(stdout=output) if output is not None else Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str = "-1") -> None:
    command.downgrade(alembic_config(database_url), revision)


def current(database_url: str) -> str:
    output = io.StringIO()
    command.current(alembic_config(database_url, output))
    return output.getvalue().strip() or "(no migration applied)"
