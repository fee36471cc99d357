"""Web pages for the coordinator, the corporations, the planners and the administrators, in the
same FastAPI app as the API: server-rendered Jinja2 templates, a vendored htmx for partial
updates, Dutch by default (English selectable), and /docs and /redoc from self-hosted assets.

The pages are a thin layer: a form is read into the API's own input model, the API's own route
function is called (with the role check that route declares, ``core.call``) and its answer is
rendered. Rules, queries and permissions live in the API and the core, never here.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import fastapi_standalone_docs
from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from starlette.exceptions import HTTPException as StarletteHTTPException

from service.settings import Settings

STATIC = Path(__file__).parent / "static"
DOCS_ASSETS = Path(fastapi_standalone_docs.__file__).parent / "static"


def page_routers() -> list:
    """Every page router: sign-in, coordinator, corporation, planner, admin, templates."""
    from service.web.pages import admin, auth, coordinator, corporation, planner, spreadsheets

    return [m.pages for m in (auth, coordinator, corporation, planner, admin, spreadsheets)]


def install(app: FastAPI, settings: Settings) -> None:
    """Mount the pages, their static files and the offline API documentation on ``app``."""
    secret = settings.session_secret
    app.state.session_secret = secret.get_secret_value() if secret else secrets.token_hex(32)
    app.mount("/static/docs", StaticFiles(directory=DOCS_ASSETS), name="docs-assets")
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    for pages in page_routers():
        app.include_router(pages)
    _docs(app)
    _not_found_page(app)


def _not_found_page(app: FastAPI) -> None:
    """A browser asking for a page that does not exist gets a page that says so; every other
    client keeps the API's problem details."""
    api_handler = app.exception_handlers[StarletteHTTPException]

    async def handler(request: Request, exc: StarletteHTTPException):
        browser = "text/html" in request.headers.get("accept", "")
        if exc.status_code == 404 and request.method == "GET" and browser:
            from service.web.pages import error_page
            from service.web.render import texts

            detail = texts(request).gettext("There is no page at this address.")
            return error_page(request, 404, detail, [], api=False)
        return await api_handler(request, exc)

    app.add_exception_handler(StarletteHTTPException, handler)


def _docs(app: FastAPI) -> None:
    """Swagger UI 5 and ReDoc 2 from the ``fastapi-standalone-docs`` package: no CDN."""

    @app.get("/docs", include_in_schema=False)
    def swagger_ui():
        return get_swagger_ui_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} — API",
            swagger_js_url="/static/docs/swagger/swagger-ui-bundle.js",
            swagger_css_url="/static/docs/swagger/swagger-ui.css",
            swagger_favicon_url="/static/favicon.svg",
        )

    @app.get("/redoc", include_in_schema=False)
    def redoc():
        return get_redoc_html(
            openapi_url=app.openapi_url,
            title=f"{app.title} — API",
            redoc_js_url="/static/docs/redoc/redoc.standalone.js",
            redoc_favicon_url="/static/favicon.svg",
            with_google_fonts=False,
        )
