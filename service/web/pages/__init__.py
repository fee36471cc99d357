"""The page routers: one module per area (sign-in, coordinator, corporation, planner, admin)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.routing import APIRoute
from starlette.responses import Response

from allocator.errors import InstanceError
from service.problems import ServiceProblem
from service.web import session as web
from service.web.render import page, redirect, texts

log = logging.getLogger("service.web")


class PageRoute(APIRoute):
    """A page's errors as pages: signed out → the sign-in page; a refused form → a page that
    says so; the API's problems (403, 404, 409, 422) → an error page with the API's words."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def run(request: Request) -> Response:
            try:
                return await handler(request)
            except web.SignInRequired:
                return redirect(request, "/aanmelden")
            except web.CsrfRefused:
                t = texts(request)
                return page(
                    request,
                    "error.html",
                    403,
                    title=t.gettext("This form has expired"),
                    detail=t.gettext(
                        "The form was sent without its security token, or your session ended. "
                        "Go back, reload the page and try again."
                    ),
                    issues=[],
                    api=False,
                )
            except ServiceProblem as exc:
                return error_page(request, exc.status, exc.detail, [e.message for e in exc.errors])
            except InstanceError as exc:
                return error_page(
                    request, 422, str(exc).split("\n")[0], [str(i) for i in exc.issues]
                )

        return run


def error_page(
    request: Request, status: int, detail: str, issues: list[str], api: bool = True
) -> Response:
    t = texts(request)
    titles = {
        403: t.gettext("You may not do this"),
        404: t.gettext("Not found"),
        409: t.gettext("This cannot be done now"),
    }
    title = titles.get(status, t.gettext("Something is not right"))
    return page(request, "error.html", status, title=title, detail=detail, issues=issues, api=api)


def router() -> APIRouter:
    return APIRouter(route_class=PageRoute, include_in_schema=False)
