"""The administrator's pages: keys (people and roles) and the region's set-up (policy,
municipalities with their yearly quotas, corporations, complexes)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.datastructures import FormData

from allocator.errors import InstanceError
from service.deps import RowId, SessionDep
from service.problems import ServiceProblem
from service.routers import keys, region
from service.schemas import (
    ApiKeyIn,
    ComplexIn,
    ComplexUpdate,
    CorporationIn,
    MunicipalityIn,
    PolicyIn,
    QuotaIn,
)
from service.state import today
from service.web import session as web
from service.web.core import call
from service.web.forms import parse, read_form, text
from service.web.pages import router
from service.web.render import page, redirect
from service.web.render import texts as texts_of

pages = router()
Caller = Annotated[Any, Depends(web.page_caller)]
Form = Annotated[FormData, Depends(read_form)]
Csrf = [Depends(web.check_csrf)]


def keys_page(request, session, caller, status_code=200, **values):
    tx = texts_of(request)
    defaults = {
        "keys": call(keys.list_api_keys, caller, session=session),
        "corporations": call(region.list_corporations, caller, session=session),
        "new_key": None,
        "errors": {},
        "values": {},
        "problem": None,
    }
    return page(request, "keys.html", status_code, title=tx.gettext("Keys"), **(defaults | values))


@pages.get("/beheer")
def key_list(request: Request, session: SessionDep, caller: Caller):
    return keys_page(request, session, caller)


@pages.post("/beheer/sleutels", dependencies=Csrf)
def key_create(request: Request, session: SessionDep, caller: Caller, form: Form):
    tx = texts_of(request)
    data = {
        "name": text(form, "name"),
        "role": text(form, "role"),
        "corporation_id": text(form, "corporation_id")
        if text(form, "role") == "corporation"
        else None,
    }
    body, errors = parse(ApiKeyIn, data, tx)
    if body is None:
        return keys_page(request, session, caller, 422, errors=errors, values=data)
    try:
        made = call(keys.create_api_key, caller, body=body, session=session)
    except ServiceProblem as exc:
        session.rollback()
        return keys_page(request, session, caller, exc.status, problem=exc, values=data)
    # shown once, on this page only (never in a URL or a cookie)
    return keys_page(request, session, caller, 201, new_key=made)


@pages.post("/beheer/sleutels/{key_id}/intrekken", dependencies=Csrf)
def key_revoke(request: Request, key_id: RowId, session: SessionDep, caller: Caller):
    call(keys.revoke_api_key, caller, key_id=key_id, session=session)
    return redirect(request, "/beheer", texts_of(request).gettext("The key is revoked."))


# --- the region ---------------------------------------------------------------------------


def region_page(request, session, caller, status_code=200, **values):
    tx = texts_of(request)
    year = today().year
    defaults = {
        "policy": session_policy(session, caller),
        "municipalities": call(region.list_municipalities, caller, session=session, year=year),
        "corporations": call(region.list_corporations, caller, session=session),
        "complexes": call(region.list_complexes, caller, session=session),
        "year": year,
        "errors": {},
        "form": None,
        "problem": None,
    }
    title = tx.gettext("Region set-up")
    return page(request, "region.html", status_code, title=title, **(defaults | values))


def session_policy(session, caller):
    try:
        return call(region.read_policy, caller, session=session)
    except ServiceProblem:
        return None


@pages.get("/beheer/regio")
def region_setup(request: Request, session: SessionDep, caller: Caller):
    return region_page(request, session, caller)


def _save(request, session, caller, which: str, model, data, func, **arguments):
    """Parse one of the set-up forms and call its API function; errors go back to that form."""
    tx = texts_of(request)
    body, errors = parse(model, data, tx)
    if body is None:
        return region_page(request, session, caller, 422, errors=errors, form=which)
    try:
        call(func, caller, body=body, session=session, **arguments)
    except (ServiceProblem, InstanceError) as exc:
        session.rollback()
        if isinstance(exc, ServiceProblem) and exc.status in (401, 403):
            raise
        status = exc.status if isinstance(exc, ServiceProblem) else 422
        return region_page(request, session, caller, status, problem=exc, form=which)
    return redirect(request, "/beheer/regio", tx.gettext("Saved."))


@pages.post("/beheer/beleid", dependencies=Csrf)
def policy_set(request: Request, session: SessionDep, caller: Caller, form: Form):
    data = {"name": text(form, "name"), "max_vulnerable_share": text(form, "max_vulnerable_share")}
    current = session_policy(session, caller)
    if current is not None:  # the form does not show the objective: keep it as it is
        data["objective"] = list(current.objective)
    return _save(request, session, caller, "policy", PolicyIn, data, region.set_policy)


@pages.post("/beheer/gemeenten", dependencies=Csrf)
def municipality_add(request: Request, session: SessionDep, caller: Caller, form: Form):
    data = {k: text(form, k) for k in ("id", "name", "quota", "population", "year")}
    return _save(
        request, session, caller, "municipality", MunicipalityIn, data, region.create_municipality
    )


@pages.post("/beheer/gemeenten/{municipality_id}/contingent", dependencies=Csrf)
def quota_set(
    request: Request, municipality_id: str, session: SessionDep, caller: Caller, form: Form
):
    try:
        year = int(text(form, "year") or today().year)
    except ValueError:
        year = today().year
    return _save(
        request, session, caller, "quota", QuotaIn, {"quota": text(form, "quota")},
        region.set_quota, municipality_id=municipality_id, year=year,
    )  # fmt: skip


@pages.post("/beheer/corporaties", dependencies=Csrf)
def corporation_add(request: Request, session: SessionDep, caller: Caller, form: Form):
    data = {k: text(form, k) for k in ("id", "name", "quota")}
    return _save(
        request, session, caller, "corporation", CorporationIn, data, region.create_corporation
    )


@pages.post("/beheer/complexen", dependencies=Csrf)
def complex_add(request: Request, session: SessionDep, caller: Caller, form: Form):
    fields = ("id", "name", "municipality_id", "units_total", "vulnerable_residents")
    data = {k: text(form, k) for k in (*fields, "max_vulnerable_share")}
    return _save(request, session, caller, "complex", ComplexIn, data, region.create_complex)


@pages.post("/beheer/complexen/{complex_id}", dependencies=Csrf)
def complex_change(
    request: Request, complex_id: str, session: SessionDep, caller: Caller, form: Form
):
    data = {k: text(form, k) for k in ("units_total", "vulnerable_residents")}
    return _save(
        request, session, caller, "complex-" + complex_id, ComplexUpdate, data,
        region.update_complex, complex_id=complex_id,
    )  # fmt: skip
