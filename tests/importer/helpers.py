"""Reaching the PostgreSQL server that holds the original databases, running `sump`, reading the results."""

from __future__ import annotations

import asyncio
import os
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from fastapi import FastAPI
from sqlalchemy import select

from sump.importer.original import ImportReport
from tests.support import ADMIN_URL, SECRET

ROOT = Path(__file__).resolve().parents[2]
SUMP = ROOT / ".venv" / "bin" / "sump"
SERVER_DSN = ADMIN_URL.replace("postgresql+asyncpg://", "postgresql://").rsplit("/", 1)[0]


async def admin(statement: str) -> None:
    connection = await asyncpg.connect(f"{SERVER_DSN}/postgres")
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def empty_database() -> str:
    name = f"sump_original_{uuid.uuid4().hex[:12]}"
    await admin(f'CREATE DATABASE "{name}"')
    return name


async def admin_in(dsn: str, statement: str) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def run_cli(database_url: str, *args: str) -> tuple[int, str, str]:
    environment = {
        **os.environ,
        "SUMP_DATABASE_URL": database_url,
        "SUMP_ENV": "test",
        "SUMP_SECRET_KEY": SECRET,
    }
    process = await asyncio.create_subprocess_exec(
        str(SUMP),
        *args,
        cwd=ROOT,
        env=environment,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await process.communicate()
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


def table_row(output: str, table: str) -> list[str]:
    """The counts of one table in the printed report: [imported, already present, skipped]."""
    for line in output.splitlines():
        words = line.split()
        if words and words[0] == table:
            return words[1:]
    raise AssertionError(f"no {table} line in:\n{output}")


async def stored(app: FastAPI, model: Any, row_id: uuid.UUID) -> Any:
    async with app.state.sessionmaker() as db:
        return await db.scalar(select(model).where(model.id == row_id))


async def login(
    client: httpx.AsyncClient, family: str, context: uuid.UUID, password: str, **identifier: str
) -> httpx.Response:
    return await client.post(f"/api/v1/auth/{family}/{context}/login", json={**identifier, "password": password})


def skipped_reasons(report: ImportReport) -> dict[uuid.UUID, str]:
    return {note.id: note.reason for note in report.skipped}
