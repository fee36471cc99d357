"""Templates (Jinja2, autoescaped) and the page responses: every response of a page carries the
session cookie when it changed, and the security headers a page needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from starlette.responses import HTMLResponse, RedirectResponse, Response

from service.web import session as web
from service.web.i18n import LOCALES, Texts, locale_of

TEMPLATES = Path(__file__).parent / "templates"

env = Environment(
    loader=FileSystemLoader(TEMPLATES),
    autoescape=select_autoescape(["html"]),
    undefined=StrictUndefined,
    extensions=["jinja2.ext.i18n"],
    trim_blocks=True,
    lstrip_blocks=True,
)

#: No script, style, image or form target outside this service: no CDN can be used by mistake.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'self'"
)


def headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = CSP
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    response.headers["Cache-Control"] = "no-store"
    return response


def texts(request: Request) -> Texts:
    return Texts(locale_of(request))


def navigation(caller, t: Texts) -> list[tuple[str, str]]:
    """The menu: a page is listed when the caller passes the role check of the API function
    it shows (``core.allowed``), so the menu follows the API's permissions."""
    from service.routers import (
        acceptance,
        aggregates,
        audit,
        clients,
        keys,
        offers,
        region,
        runs,
        scenario_runs,
        vacancies,
    )
    from service.web.core import allowed

    items = [
        ("/overzicht", t.gettext("Overview"), aggregates.read_aggregates),
        ("/clienten", t.gettext("Clients"), clients.list_clients),
        ("/woningen", t.gettext("Vacancies"), vacancies.list_vacancies),
        ("/voorstellen", t.gettext("Proposals"), runs.list_runs),
        ("/aanbiedingen", t.gettext("Offers"), offers.list_offers),
        ("/acceptatiemodel", t.gettext("Acceptance model"), acceptance.read_acceptance_model),
        ("/planner", t.gettext("Scenarios"), scenario_runs.list_scenario_runs),
        ("/logboek", t.gettext("Audit trail"), audit.read_audit_trail),
        ("/beheer", t.gettext("Keys"), keys.list_api_keys),
        ("/beheer/regio", t.gettext("Region set-up"), region.create_municipality),
    ]
    if caller is not None and caller.role == "corporation":
        items.insert(
            0, ("/corporatie", t.gettext("Offers on our units"), offers.list_corporation_offers)
        )
    menu = [(href, label) for href, label, func in items if allowed(func, caller)]
    return menu + [("/sjablonen", t.gettext("Templates"))] if caller else menu


def context(request: Request, **values: Any) -> dict[str, Any]:
    t = texts(request)
    caller = web.signed_in_caller(request)
    nav = navigation(caller, t)
    here = request.url.path
    matching = [href for href, _ in nav if here == href or here.startswith(href + "/")]
    return {
        "nav": nav,
        "current": max(matching, key=len, default=None),
        "request": request,
        "me": caller,
        "csrf_token": web.web_session(request).csrf,
        "csrf_field": web.CSRF_FIELD,
        "locale": t.locale,
        "locales": LOCALES,
        "t": t,
        "_": t.gettext,
        "gettext": t.gettext,
        "ngettext": t.ngettext,
        "here": request.url.path,
        **values,
    }


def page(request: Request, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
    session = web.web_session(request)
    flash, session.flash = session.flash, None
    session.changed = session.changed or flash is not None
    html = env.get_template(template).render(context(request, flash=flash, **values))
    return web.save(request, headers(HTMLResponse(html, status_code=status_code)))


def redirect(request: Request, url: str, flash: str | None = None) -> Response:
    """After a POST: see the result (303). ``flash`` is shown once on the next page."""
    if flash:  # kept in the signed cookie, never in the URL
        session = web.web_session(request)
        session.flash, session.changed = flash, True
    if request.headers.get("HX-Request"):
        response: Response = Response(status_code=204, headers={"HX-Redirect": url})
    else:
        response = RedirectResponse(url, status_code=303)
    return web.save(request, headers(response))
