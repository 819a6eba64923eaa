"""Projects owned by Sump organizations: a FastAPI app that trusts Sump's access tokens through `sump.sdk`.

Every query is scoped by the token's `org_id`: another organization's project answers 404, a token without an
organization 403. Permissions come from the token, as Sump's catalog grants them: `projects:read` (READ_ONLY
and up), `projects:write` (ORG_USER and up), `projects:delete` (ORG_ADMIN).

    SUMP_URL=http://127.0.0.1:8080 SUMP_ENVIRONMENT_ID=… \\
        .venv/bin/uvicorn --factory examples.projects.app:create_app --port 8000
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from http import HTTPStatus
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from starlette.exceptions import HTTPException

from sump.sdk import JwksVerifier, Principal, current_user, require_permissions

from .models import Base, Project, utcnow
from .schemas import ProjectCreate, ProjectUpdate, ProjectView

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./projects.db"


@dataclass(frozen=True)
class Settings:
    sump_url: str
    environment_id: uuid.UUID
    database_url: str = DEFAULT_DATABASE_URL

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> Settings:
        """`SUMP_URL` (Sump's public URL, which is also its tokens' issuer), `SUMP_ENVIRONMENT_ID` (whose tokens
        are accepted), `PROJECTS_DATABASE_URL` (SQLAlchemy async URL, default `./projects.db`)."""
        missing = [name for name in ("SUMP_URL", "SUMP_ENVIRONMENT_ID") if not environ.get(name)]
        if missing:
            raise RuntimeError(f"set {' and '.join(missing)} (see examples/projects/README.md)")
        try:
            environment_id = uuid.UUID(environ["SUMP_ENVIRONMENT_ID"])
        except ValueError:
            raise RuntimeError("SUMP_ENVIRONMENT_ID must be an environment id (a UUID)") from None
        return cls(
            sump_url=environ["SUMP_URL"].rstrip("/"),
            environment_id=environment_id,
            database_url=environ.get("PROJECTS_DATABASE_URL") or DEFAULT_DATABASE_URL,
        )


# --- errors: every one is {"status", "code", "message"} -------------------------------------------------------


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def not_found() -> ApiError:
    return ApiError(404, "project_not_found", "Project not found.")


def error_response(
    status: int, code: str, message: str, headers: Mapping[str, str] | None = None, **extra: Any
) -> JSONResponse:
    return JSONResponse({"status": status, "code": code, "message": message, **extra}, status, headers=headers)


HTTP_CODES = {401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


async def api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message)


async def http_error(request: Request, exc: Exception) -> JSONResponse:
    """The SDK's 401 and 403, and routing's 404 and 405, in the same shape."""
    assert isinstance(exc, HTTPException)
    message = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
    code = HTTP_CODES.get(exc.status_code, HTTPStatus(exc.status_code).name.lower())
    return error_response(exc.status_code, code, message, exc.headers)


async def validation_error(request: Request, exc: Exception) -> JSONResponse:
    """400 naming each bad field; the submitted values are not echoed back."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"field": ".".join(str(part) for part in error["loc"]), "message": error["msg"]} for error in exc.errors()
    ]
    return error_response(400, "validation_failed", "The request is not valid.", errors=errors)


# --- who is calling ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    organization_id: uuid.UUID
    user_id: uuid.UUID


async def active_organization(user: Principal = Depends(current_user)) -> uuid.UUID:
    if user.organization_id is None:
        raise ApiError(
            403, "organization_required", "The access token names no organization: request one with organizationId."
        )
    return user.organization_id


def caller_with(permission: str) -> Callable[..., Awaitable[Caller]]:
    """401 without a valid token of the environment, 403 without an organization or without `permission`."""

    async def dependency(
        organization_id: uuid.UUID = Depends(active_organization),
        user: Principal = Depends(require_permissions(permission)),
    ) -> Caller:
        return Caller(organization_id=organization_id, user_id=user.account_id)

    return dependency


Reader = Annotated[Caller, Depends(caller_with("projects:read"))]
Writer = Annotated[Caller, Depends(caller_with("projects:write"))]
Deleter = Annotated[Caller, Depends(caller_with("projects:delete"))]
ProjectId = Annotated[uuid.UUID, Path(alias="projectId")]


async def database(request: Request) -> AsyncIterator[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        yield session


Db = Annotated[AsyncSession, Depends(database)]


async def commit(db: AsyncSession, write: Awaitable[Project | None]) -> Project:
    """Runs one write and commits it: a name the organization already uses is 409, no row in scope 404."""
    try:
        project = await write
        if project is None:
            raise not_found()
        await db.commit()
    except IntegrityError:
        await db.rollback()
        raise ApiError(409, "project_name_taken", "The organization already has a project with this name.") from None
    return project


# --- routes -------------------------------------------------------------------------------------------------------

router = APIRouter(prefix="/projects", tags=["projects"])


@router.post("", status_code=201, response_model=ProjectView)
async def create_project(body: ProjectCreate, caller: Writer, db: Db) -> ProjectView:
    async def insert() -> Project:
        now = utcnow()
        project = Project(
            id=uuid.uuid4(),
            organization_id=caller.organization_id,
            name=body.name,
            description=body.description,
            created_by_user_id=caller.user_id,
            created_at=now,
            updated_at=now,
        )
        db.add(project)
        await db.flush()
        return project

    return ProjectView.model_validate(await commit(db, insert()))


@router.get("", response_model=list[ProjectView])
async def list_projects(caller: Reader, db: Db) -> list[ProjectView]:
    """The organization's projects, newest first."""
    projects = await db.scalars(
        select(Project)
        .where(Project.organization_id == caller.organization_id)
        .order_by(Project.created_at.desc(), Project.id.desc())
    )
    return [ProjectView.model_validate(project) for project in projects]


@router.get("/{projectId}", response_model=ProjectView)
async def get_project(project_id: ProjectId, caller: Reader, db: Db) -> ProjectView:
    project = await db.scalar(
        select(Project).where(Project.id == project_id, Project.organization_id == caller.organization_id)
    )
    if project is None:
        raise not_found()
    return ProjectView.model_validate(project)


@router.patch("/{projectId}", response_model=ProjectView)
async def update_project(project_id: ProjectId, body: ProjectUpdate, caller: Writer, db: Db) -> ProjectView:
    """Changes the fields sent; `description: null` clears it."""
    changes: dict[str, Any] = body.model_dump(include=body.model_fields_set)
    statement = (
        update(Project)
        .where(Project.id == project_id, Project.organization_id == caller.organization_id)
        .values(**changes, updated_at=utcnow())
        .returning(Project)
    )
    return ProjectView.model_validate(await commit(db, db.scalar(statement)))


@router.delete("/{projectId}", status_code=204)
async def delete_project(project_id: ProjectId, caller: Deleter, db: Db) -> None:
    statement = (
        delete(Project)
        .where(Project.id == project_id, Project.organization_id == caller.organization_id)
        .returning(Project.id)
    )
    if await db.scalar(statement) is None:
        raise not_found()
    await db.commit()


# --- the app ------------------------------------------------------------------------------------------------------


def create_app(settings: Settings | None = None) -> FastAPI:
    """The app for `settings` (default: from the environment). Its table is created at startup."""
    settings = settings or Settings.from_env()
    engine = create_async_engine(settings.database_url)
    http = httpx.AsyncClient(timeout=5)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        try:
            yield
        finally:
            await http.aclose()
            await engine.dispose()

    app = FastAPI(title="Projects (Sump example)", lifespan=lifespan)
    app.state.sump = JwksVerifier.for_environment(settings.sump_url, settings.environment_id, client=http)
    app.state.sessionmaker = async_sessionmaker(engine, expire_on_commit=False)
    app.add_exception_handler(ApiError, api_error)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.include_router(router)
    return app
