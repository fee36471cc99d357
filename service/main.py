"""The FastAPI application: ``create_app(settings)``; ``app`` for ``uvicorn service.main:app``."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager

from anyio import to_thread
from fastapi import FastAPI, HTTPException
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service import problems, web
from service.db import REQUEST_THREADS, get_engine
from service.jobs import make_queue
from service.routers import (
    acceptance,
    aggregates,
    audit,
    clients,
    keys,
    offers,
    region,
    regions,
    runs,
    scenario_runs,
    vacancies,
)
from service.schemas import Health
from service.settings import Settings, get_settings

log = logging.getLogger("service")

DESCRIPTION = """
Proposes which people leaving sheltered care get which vacant dwellings in the region, and keeps
the region's state: quotas, buildings, vacancies, clients, runs, offers and the audit trail.
Planners simulate what-if scenario files (`/scenario-runs`): KPIs, a report and plots.
The product proposes; the coordinator decides every line.

Every request needs an API key in the `X-API-Key` header (`python -m service create-key`).
People use the pages at `/` (signed in with the same key).
Errors are RFC 9457 problem details (`application/problem+json`).
"""


class BodySizeLimit:
    """Refuses a request body larger than MAX_REQUEST_BYTES: at once when its Content-Length says
    so, and otherwise (chunked) while it streams in, before the route has read more than that."""

    def __init__(self, app: ASGIApp, max_bytes: int):
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"The request body is larger than {self.max_bytes:,} bytes."
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            response = JSONResponse(
                {
                    "type": problems.PROBLEM_TYPE + "too-large",
                    "title": "Content Too Large",
                    "status": 413,
                    "detail": detail,
                    "instance": scope["path"],
                    "errors": [],
                },
                status_code=413,
                media_type=problems.MEDIA_TYPE,
            )
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # an HTTPException passes through FastAPI's body reading as it is
                    raise HTTPException(413, detail)
            return message

        await self.app(scope, limited, send)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        # The schema is made by `python -m service migrate` (which `serve` runs first), never
        # here: several processes start at once, and none may change the schema under another.
        # Every request holds one connection: the pool is sized to these threads (db.py).
        to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS
        jobs = make_queue(settings)
        jobs.start()
        app.state.jobs = jobs
        try:
            yield
        finally:
            jobs.shutdown()

    app = FastAPI(
        title="Uitstroom allocator service",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served by service.web from self-hosted assets (no CDN)
        redoc_url=None,
    )
    app.state.settings = settings
    problems.install(app)
    app.add_middleware(BodySizeLimit, max_bytes=settings.max_request_bytes)
    for module in (
        regions,
        region,
        vacancies,
        clients,
        runs,
        scenario_runs,
        offers,
        audit,
        aggregates,
        keys,
        acceptance,
    ):
        app.include_router(module.router)
    web.install(app, settings)  # the pages at /, and /docs and /redoc without internet

    def openapi() -> dict:
        """Errors are documented as what they are: problem details, as problem+json. Every
        operation may also answer 500 (logged, nothing changed) and, with a body, 413."""
        if app.openapi_schema:
            return app.openapi_schema
        document = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        problem = {"schema": {"$ref": "#/components/schemas/Problem"}}
        for operations in document["paths"].values():
            for method, operation in operations.items():
                answers = operation.setdefault("responses", {})
                answers.setdefault("500", {"description": "An unexpected error; it was logged."})
                if method in ("post", "put", "patch"):
                    answers.setdefault("413", {"description": "The request body is too large."})
                if method in ("post", "put", "patch", "delete"):
                    # the database's own constraints can refuse any write (a concurrent request)
                    answers.setdefault(
                        "409", {"description": "The change conflicts with the current state."}
                    )
                for status, answer in answers.items():
                    if int(status) >= 400:
                        answer["content"] = {problems.MEDIA_TYPE: problem}
        app.openapi_schema = document
        return document

    app.openapi = openapi

    @app.get("/health", response_model=Health, tags=["health"], responses=problems.responses(503))
    def health() -> Health:
        """Whether the service and its database answer. Needs no key."""
        with get_engine(settings.database_url).connect() as connection:
            connection.execute(text("SELECT 1"))
        return Health(status="ok", database=get_engine(settings.database_url).dialect.name)

    return app


def app_factory() -> FastAPI:
    return create_app()
