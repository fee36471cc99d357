"""Signing in with an API key, signing out, choosing the language, and the start page."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Form, Request
from sqlalchemy import select

from service.db import get_read_sessionmaker
from service.deps import caller_of_key, hash_key
from service.tables import ApiKey
from service.web import session as web
from service.web.i18n import LANG_COOKIE, LOCALES
from service.web.pages import router
from service.web.render import page, redirect, texts

pages = router()

#: Where each role starts.
START = {
    "coordinator": "/overzicht",
    "corporation": "/corporatie",
    "planner": "/planner",
    "admin": "/beheer",
}


@pages.get("/")
def home(request: Request):
    caller = web.signed_in_caller(request)
    return redirect(request, START[caller.role] if caller else "/aanmelden")


@pages.get("/aanmelden")
def sign_in_form(request: Request):
    if web.signed_in_caller(request):
        return redirect(request, "/")
    return page(request, "sign_in.html", error=None)


@pages.post("/aanmelden", dependencies=[Depends(web.check_csrf)])
def sign_in(request: Request, key: Annotated[str, Form(max_length=200)] = ""):
    maker = get_read_sessionmaker(request.app.state.settings.database_url)
    with maker() as db:
        row = db.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(key.strip())))
        caller = caller_of_key(row)
    if caller is None:
        t = texts(request)
        return page(
            request,
            "sign_in.html",
            401,
            error=t.gettext("This key is not valid, or it has been revoked."),
        )
    web.sign_in(request, row)
    return redirect(request, START[caller.role], texts(request).gettext("You are signed in."))


@pages.post("/afmelden", dependencies=[Depends(web.check_csrf)])
def sign_out(request: Request):
    web.sign_out(request)
    return redirect(request, "/aanmelden", texts(request).gettext("You are signed out."))


@pages.post("/taal", dependencies=[Depends(web.check_csrf)])
def choose_language(
    request: Request,
    lang: Annotated[str, Form()],
    back: Annotated[str, Form(max_length=500)] = "/",
):
    if not back.startswith("/") or back.startswith("//"):
        back = "/"
    response = redirect(request, back)
    if lang in LOCALES:
        response.set_cookie(LANG_COOKIE, lang, max_age=365 * 24 * 3600, samesite="lax")
    return response
