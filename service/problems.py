"""Errors as RFC 9457 problem details, worded for the person reading them.

Every error the service returns, including FastAPI's own validation errors and database
conflicts, becomes ``application/problem+json`` with ``type``, ``title``, ``status`` and
``detail``; input problems also list ``errors`` naming where each one is.
"""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy.exc import DataError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException

from allocator.errors import InstanceError
from service.db import TryAgain

log = logging.getLogger("service")

PROBLEM_TYPE = "https://uitstroom.example/problems/"
MEDIA_TYPE = "application/problem+json"


class ProblemIssue(BaseModel):
    """One problem with the input: where it is and what is wrong, as a person would say it."""

    location: str | None = Field(
        default=None, description="Where: a field path, or table[row].field for uploads."
    )
    table: str | None = None
    row: str | None = None
    field: str | None = None
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[ProblemIssue] = Field(default_factory=list)


class ServiceProblem(Exception):
    """Raised by the service's own code: becomes a problem-details response."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        errors: list[ProblemIssue] | None = None,
        headers: dict[str, str] | None = None,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or HTTPStatus(status).phrase.lower().replace(" ", "-")
        self.errors = errors or []
        self.headers = headers


def not_found(what: str, id_: object) -> ServiceProblem:
    return ServiceProblem(404, f"There is no {what} with id {id_!r}.", kind="not-found")


def conflict(detail: str, errors: list[ProblemIssue] | None = None) -> ServiceProblem:
    return ServiceProblem(409, detail, kind="conflict", errors=errors)


def forbidden(detail: str) -> ServiceProblem:
    return ServiceProblem(403, detail, kind="forbidden")


def issues_of(exc: InstanceError) -> list[ProblemIssue]:
    return [ProblemIssue(location=str(i).split(": ", 1)[0], **i.as_dict()) for i in exc.issues]


def problem_response(
    request: Request,
    status: int,
    detail: str,
    kind: str,
    errors: list[ProblemIssue] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = Problem(
        type=PROBLEM_TYPE + kind,
        title=HTTPStatus(status).phrase,
        status=status,
        detail=detail,
        instance=request.url.path,
        errors=errors or [],
    )
    return JSONResponse(
        body.model_dump(mode="json"), status_code=status, media_type=MEDIA_TYPE, headers=headers
    )


def _location(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in ("body", "query", "path", "header"):
        where = parts[0]
        rest = ".".join(parts[1:])
        return f"{where}: {rest}" if rest else where
    return ".".join(parts)


def _message(error: dict[str, Any]) -> str:
    message = str(error.get("msg", "invalid value"))
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if error.get("type") == "json_invalid":
        ctx = error.get("ctx") or {}
        return f"The request body is not valid JSON ({ctx.get('error', 'malformed')})."
    if error.get("type") == "missing":
        return "This field is required."
    return message


def install(app: FastAPI) -> None:
    @app.exception_handler(ServiceProblem)
    async def _service_problem(request: Request, exc: ServiceProblem):
        return problem_response(request, exc.status, exc.detail, exc.kind, exc.errors, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_problem(request: Request, exc: StarletteHTTPException):
        status = exc.status_code
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(status).description
        if status == 404 and detail == "Not Found":
            detail = f"There is nothing at {request.url.path}."
        if status == 405:
            detail = f"{request.method} is not allowed on {request.url.path}."
        kind = HTTPStatus(status).phrase.lower().replace(" ", "-")
        return problem_response(request, status, detail, kind, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation_problem(request: Request, exc: RequestValidationError):
        errors = [
            ProblemIssue(location=_location(tuple(e.get("loc", ()))), message=_message(e))
            for e in exc.errors()
        ]
        n = len(errors)
        detail = (
            f"The request has {n} problem{'s' if n != 1 else ''}; see errors."
            if n
            else ("The request is not valid.")
        )
        return problem_response(request, 422, detail, "invalid-request", errors)

    @app.exception_handler(InstanceError)
    async def _instance_problem(request: Request, exc: InstanceError):
        errors = issues_of(exc)
        return problem_response(
            request,
            422,
            f"The input has {len(errors)} problem(s); each names its table, row and field.",
            "invalid-input",
            errors,
        )

    @app.exception_handler(IntegrityError)
    async def _integrity_problem(request: Request, exc: IntegrityError):
        # The database refused a write that the checks before it let through: in practice a
        # concurrent request took the same unit or client first.
        # the driver's message quotes the values of the row: personal data stays out of logs
        log.info("integrity error on %s: %s", request.url.path, type(exc.orig).__name__)
        text = str(exc.orig)
        if "uq_offers_open_unit" in text or "offers.unit_id" in text:
            detail = "This unit already has an open offer (made at the same time by someone else)."
        elif "uq_offers_open_client" in text or "offers.client_id" in text:
            detail = (
                "This client already has an open offer (made at the same time by someone else)."
            )
        else:
            detail = "The change conflicts with the current state (a duplicate or a missing row)."
        return problem_response(request, 409, detail, "conflict")

    @app.exception_handler(DataError)
    async def _data_problem(request: Request, exc: DataError):
        log.info("data error on %s: %s", request.url.path, type(exc.orig).__name__)
        return problem_response(
            request,
            422,
            "A value does not fit: a text is too long, a number too large, or a text holds a "
            "character that cannot be stored.",
            "invalid-value",
        )

    @app.exception_handler(UnicodeEncodeError)
    async def _encoding_problem(request: Request, exc: UnicodeEncodeError):
        return problem_response(
            request, 422, "A text holds a character that is not valid Unicode.", "invalid-value"
        )

    @app.exception_handler(OverflowError)
    async def _overflow_problem(request: Request, exc: OverflowError):
        return problem_response(request, 422, "A number is too large.", "invalid-value")

    def busy(request: Request) -> JSONResponse:
        return problem_response(
            request,
            503,
            "The database is busy or unavailable; please try again in a moment.",
            "unavailable",
            headers={"Retry-After": "2"},
        )

    @app.exception_handler(OperationalError)
    async def _busy_problem(request: Request, exc: OperationalError):
        # the driver's message names no value of the request (it may hold personal data)
        log.warning("database unavailable: %s", type(exc.orig).__name__)
        return busy(request)

    @app.exception_handler(PoolTimeout)
    async def _pool_problem(request: Request, exc: PoolTimeout):
        log.warning("no database connection free within the pool time-out")
        return busy(request)

    @app.exception_handler(TryAgain)
    async def _contention_problem(request: Request, exc: TryAgain):
        log.warning("a transaction kept meeting concurrent changes: %s", request.url.path)
        return busy(request)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception):
        log.exception("unexpected error on %s %s", request.method, request.url.path)
        return problem_response(
            request,
            500,
            "Something went wrong on our side; the error has been logged. Nothing was changed.",
            "internal-error",
        )


#: Documented on every route; FastAPI merges these into the OpenAPI document.
def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    described = {
        400: "The request could not be read.",
        401: "No valid API key was given.",
        403: "This role may not do this.",
        404: "The thing named does not exist.",
        409: "The change conflicts with the current state.",
        413: "The request body or upload is too large.",
        415: "The upload is not a CSV or XLSX file.",
        422: "The input breaks a rule; errors says where.",
        503: "The database is busy; try again.",
    }
    # the model registers the Problem schema; main.openapi() files it under problem+json
    return {s: {"model": Problem, "description": described[s]} for s in statuses}
