"""The coordinator's pages: the overview, clients, proposals (runs), offers and the audit trail.

Every page calls the API's route functions through ``core.call`` (their own role checks) and
renders the answer; forms are read into the API's own input models.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import select
from starlette.datastructures import FormData

from allocator.alternatives import alternatives
from allocator.models import Policy, mix_cap, parse_instance
from allocator.solver import SolverSettings
from service import tables as t
from service.deps import RowId, SessionDep, SettingsDep
from service.pagination import first_page
from service.problems import ServiceProblem, not_found
from service.routers import acceptance, aggregates, audit, clients, offers, region, runs
from service.schemas import ClientIn, ClientUpdate, OffersFromRunIn, RefuseIn, RunIn, WithdrawIn
from service.state import quota_use, today
from service.web import session as web
from service.web.core import call, require
from service.web.explain import Explainer, gap_sentence, issue_text
from service.web.forms import flag, parse, read_form, text, texts
from service.web.pages import router
from service.web.render import page, redirect
from service.web.render import texts as texts_of
from service.web.words import N_, AuditWords

pages = router()
Caller = Annotated[Any, Depends(web.page_caller)]
Form = Annotated[FormData, Depends(read_form)]
Csrf = [Depends(web.check_csrf)]


# --- client references: no pseudonym in a URL ---------------------------------------------


def client_ref(request: Request, client_id: str) -> str:
    """An opaque, stable reference to a client for links (the pseudonym stays out of URLs,
    and so out of logs and browser history)."""
    key = request.app.state.session_secret.encode()
    return hmac.new(key, client_id.encode(), hashlib.sha256).hexdigest()[:20]


def client_of_ref(request: Request, session, ref: str) -> str:
    for client_id in session.scalars(select(t.Client.id)):
        if hmac.compare_digest(client_ref(request, client_id), ref):
            return client_id
    raise not_found("client", "(reference)")


# --- overview -----------------------------------------------------------------------------


def overview_data(session, caller) -> dict[str, Any]:
    """Counts, quota per municipality and corporation, and every building against its cap."""
    found = call(aggregates.read_aggregates, caller, session=session)
    year = found.year
    use = quota_use(session, year)
    corporations = []
    for c in call(region.list_corporations, caller, session=session):
        used = use.corporation_let[c.id] + use.corporation_accepted[c.id]
        left = None if c.quota is None else max(0, c.quota - used)
        corporations.append(
            {"id": c.id, "name": c.name, "quota": c.quota, "used": used, "left": left}
        )
    try:
        default_share = call(region.read_policy, caller, session=session).max_vulnerable_share
    except ServiceProblem:  # a region not set up yet: the contract's default
        default_share = Policy().max_vulnerable_share
    buildings = []
    municipality_names = {m.id: m.name for m in found.municipalities}
    for cx in call(region.list_complexes, caller, session=session):
        share = cx.max_vulnerable_share if cx.max_vulnerable_share is not None else default_share
        buildings.append(
            {
                "id": cx.id,
                "name": cx.name or cx.id,
                "municipality": municipality_names.get(cx.municipality_id, cx.municipality_id),
                "vulnerable": cx.vulnerable_residents,
                "units_total": cx.units_total,
                "cap": mix_cap(share, cx.units_total),
                "share": share,
            }
        )
    return {"aggregates": found, "corporations": corporations, "buildings": buildings}


@pages.get("/overzicht")
def overview(request: Request, session: SessionDep, caller: Caller):
    tx = texts_of(request)
    data = overview_data(session, caller)
    return page(request, "overview.html", title=tx.gettext("Overview"), **data)


# --- clients ------------------------------------------------------------------------------


def municipality_options(session, caller) -> list[tuple[str, str]]:
    return [(m.id, m.name) for m in call(region.list_municipalities, caller, session=session)]


@pages.get("/clienten")
def client_list(request: Request, session: SessionDep, caller: Caller, status: str = ""):
    tx = texts_of(request)
    chosen = status if status in ("ready", "proposed", "housed", "withdrawn") else None
    rows = call(clients.list_clients, caller, session=session, status=chosen)
    return page(
        request,
        "clients.html",
        title=tx.gettext("Clients"),
        clients=rows,
        ref=lambda c: client_ref(request, c),
        status=chosen or "",
    )


def _client_data(form: FormData) -> dict[str, Any]:
    preferred = [form.get(f"preferred_{i}") for i in range(1, 4)]
    return {
        "id": text(form, "id"),
        "household_size": text(form, "household_size"),
        "max_rent": text(form, "max_rent"),
        "needs_accessible": flag(form, "needs_accessible"),
        "preferred_municipalities": [p for p in preferred if isinstance(p, str) and p],
        "excluded_municipalities": texts(form, "excluded_municipalities"),
        "target_group": text(form, "target_group"),
        "ready_since": text(form, "ready_since"),
        "income_bracket": text(form, "income_bracket"),
        "support": flag(form, "support"),
        "support_contact": text(form, "support_contact"),
    }


def _client_form(request, session, caller, *, values, errors, problem=None, client=None):
    tx = texts_of(request)
    title = tx.gettext("Change client") if client else tx.gettext("Register a client")
    return page(
        request,
        "client_form.html",
        422 if errors or problem else 200,
        title=title,
        values=values,
        errors=errors,
        problem=problem,
        client=client,
        municipalities=municipality_options(session, caller),
        ref=client_ref(request, client.id) if client else None,
    )


@pages.get("/clienten/nieuw")
def client_new(request: Request, session: SessionDep, caller: Caller):
    require(clients.register_client, caller)
    values = {"ready_since": today().isoformat(), "household_size": 1}
    return _client_form(request, session, caller, values=values, errors={})


@pages.post("/clienten/nieuw", dependencies=Csrf)
def client_register(request: Request, session: SessionDep, caller: Caller, form: Form):
    data = _client_data(form)
    body, errors = parse(ClientIn, data, texts_of(request))
    if body is None:
        return _client_form(request, session, caller, values=data, errors=errors)
    try:
        call(clients.register_client, caller, body=body, session=session)
    except ServiceProblem as exc:
        session.rollback()
        return _client_form(request, session, caller, values=data, errors={}, problem=exc)
    tx = texts_of(request)
    return redirect(request, "/clienten", tx.gettext("Client %(id)s is registered.", id=body.id))


@pages.get("/clienten/{ref}")
def client_detail(request: Request, ref: str, session: SessionDep, caller: Caller):
    client_id = client_of_ref(request, session, ref)
    client = call(clients.read_client, caller, client_id=client_id, session=session)
    history = call(clients.client_history, caller, client_id=client_id, session=session)
    own_offers = call(
        offers.list_offers,
        caller,
        session=session,
        settings=request.app.state.settings,
        client_id=client_id,
    )
    tx = texts_of(request)
    return page(
        request,
        "client.html",
        title=tx.gettext("Client %(id)s", id=client.id),
        client=client,
        history=history,
        audit=AuditWords(tx),
        offers=own_offers,
        ref=ref,
        values=client.model_dump(),
        errors={},
        problem=None,
        municipalities=municipality_options(session, caller),
    )


@pages.post("/clienten/{ref}", dependencies=Csrf)
def client_change(request: Request, ref: str, session: SessionDep, caller: Caller, form: Form):
    client_id = client_of_ref(request, session, ref)
    data = _client_data(form)
    data.pop("id")
    data.pop("ready_since")
    body, errors = parse(ClientUpdate, data, texts_of(request))
    problem = None
    if body is not None:
        try:
            call(clients.update_client, caller, client_id=client_id, body=body, session=session)
        except ServiceProblem as exc:
            session.rollback()
            problem = exc
        else:
            tx = texts_of(request)
            return redirect(request, f"/clienten/{ref}", tx.gettext("The changes are saved."))
    client = call(clients.read_client, caller, client_id=client_id, session=session)
    return _client_form(
        request, session, caller, values={**data, "id": client_id}, errors=errors,
        problem=problem, client=client,
    )  # fmt: skip


@pages.post("/clienten/{ref}/intrekken", dependencies=Csrf)
def client_withdraw(request: Request, ref: str, session: SessionDep, caller: Caller, form: Form):
    client_id = client_of_ref(request, session, ref)
    tx = texts_of(request)
    body, errors = parse(WithdrawIn, {"reason": text(form, "reason")}, tx)
    if body is None:
        raise ServiceProblem(422, tx.gettext("Give a reason for withdrawing."))
    call(clients.withdraw_client, caller, client_id=client_id, body=body, session=session)
    return redirect(request, f"/clienten/{ref}", tx.gettext("The client is withdrawn."))


# --- proposals ----------------------------------------------------------------------------


@pages.get("/voorstellen")
def proposal_list(request: Request, session: SessionDep, caller: Caller):
    tx = texts_of(request)
    found = call(runs.list_runs, caller, session=session)
    return page(request, "runs.html", title=tx.gettext("Proposals"), runs=found)


@pages.post("/voorstellen", dependencies=Csrf)
def proposal_start(request: Request, session: SessionDep, caller: Caller, settings: SettingsDep):
    run = call(
        runs.request_run, caller, request=request, session=session, settings=settings, body=RunIn()
    )
    return redirect(request, f"/voorstellen/{run.id}")


def _run_offers(session, caller, run_id: RowId, settings) -> dict[str, Any]:
    """The offers made from this run, by client (the newest per client)."""
    made = {}
    for offer in call(offers.list_offers, caller, session=session, settings=settings):
        if offer.run_id == run_id:
            made[offer.client_id] = offer
    return made


def proposal_page(request, session, caller, run_id: RowId, problems=None, status_code=200):
    tx = texts_of(request)
    run = call(runs.read_run, caller, run_id=run_id, session=session)
    values = {
        "run": run,
        "proposal": None,
        "offers": {},
        "problems": problems or {},
        "ref": lambda c: client_ref(request, c),
        "names": {},
        "explain": None,
        "gap": None,
    }
    if run.status == "done":
        found = call(runs.read_proposal, caller, run_id=run_id, session=session)
        values["proposal"] = found
        values["offers"] = _run_offers(session, caller, run_id, request.app.state.settings)
        stored = call(runs.read_run_input, caller, run_id=run_id, session=session)
        values["explain"] = Explainer(tx, stored, found)
        values["gap"] = gap_sentence(tx, found["solver"]["levels"])
        summaries = found.get("summaries") or {}
        values["names"] = {
            m["municipality_id"]: m["name"] for m in summaries.get("municipalities", [])
        }
    title = tx.gettext("Proposal %(id)s", id=run_id)
    return page(request, "proposal.html", status_code, title=title, **values)


@pages.get("/voorstellen/{run_id}")
def proposal(request: Request, run_id: RowId, session: SessionDep, caller: Caller):
    return proposal_page(request, session, caller, run_id)


@pages.get("/voorstellen/{run_id}/voortgang")
def proposal_progress(request: Request, run_id: RowId, session: SessionDep, caller: Caller):
    """The run's status for htmx to poll; when it is final, the whole page is loaded."""
    run = call(runs.read_run, caller, run_id=run_id, session=session)
    if run.status not in ("queued", "running"):
        return redirect(request, f"/voorstellen/{run_id}")
    return page(request, "run_progress.html", run=run, title="")


@pages.get("/voorstellen/{run_id}/alternatieven")
def proposal_alternatives(
    request: Request, run_id: RowId, client: str, session: SessionDep, caller: Caller
):
    """The best units for one client and what each would cost the others (the core's
    ``alternatives``, on the instance the run solved)."""
    client_id = client_of_ref(request, session, client)
    stored = call(runs.read_run_input, caller, run_id=run_id, session=session)
    instance = parse_instance(stored)
    if not instance.has("clients", client_id):
        raise not_found("client in this run", "(reference)")
    limit = min(10.0, request.app.state.settings.run_time_limit_seconds)
    _, found = alternatives(
        instance, client_id, k=3, settings=SolverSettings(time_limit_seconds=limit)
    )
    return page(
        request,
        "alternatives.html",
        title="",
        run_id=run_id,
        client_id=client_id,
        alternatives=found,
        municipalities={m.id: m.name for m in instance.municipalities},
        explain=Explainer(texts_of(request), stored),
    )


def _problems_by_client(exc: ServiceProblem, client_ids: list[str], t) -> dict[str, list[str]]:
    """The API's violations, each next to the line of the client it names."""
    found: dict[str, list[str]] = {}
    for issue in exc.errors or []:
        named = [c for c in client_ids if c in issue.message] or ["*"]
        for c in named:
            found.setdefault(c, []).append(issue_text(t, issue.message))
    if not found:
        found["*"] = [exc.detail]
    return found


@pages.post("/voorstellen/{run_id}/aanbieden", dependencies=Csrf)
def proposal_offer(
    request: Request, run_id: RowId, session: SessionDep, caller: Caller, form: Form,
    settings: SettingsDep,
):  # fmt: skip
    """Turn the chosen lines into offers; a line changed by hand names its new unit."""
    tx = texts_of(request)
    chosen = texts(form, "client")
    changes = []
    changed = text(form, "change_client")
    if changed and text(form, "change_unit"):
        changes.append({"client_id": changed, "unit_id": text(form, "change_unit")})
        chosen = [c for c in chosen if c != changed]
    if not chosen and not changes:
        return proposal_page(
            request, session, caller, run_id,
            {"*": [tx.gettext("Choose at least one line to offer.")]}, 422,
        )  # fmt: skip
    start = text(form, "intended_start_date")
    body, errors = parse(
        OffersFromRunIn,
        {"client_ids": chosen, "changes": changes, "intended_start_date": start},
        tx,
    )
    if body is None:
        return proposal_page(request, session, caller, run_id, {"*": list(errors.values())}, 422)
    try:
        made = call(
            offers.offer_proposal_lines, caller,
            run_id=run_id, body=body, session=session, settings=settings,
        )  # fmt: skip
    except ServiceProblem as exc:
        session.rollback()
        if exc.status in (401, 403, 404):
            raise
        problems = _problems_by_client(exc, [*chosen, *(c["client_id"] for c in changes)], tx)
        return proposal_page(request, session, caller, run_id, problems, exc.status)
    message = tx.ngettext("%(num)d offer made.", "%(num)d offers made.", len(made))
    return redirect(request, f"/voorstellen/{run_id}", message)


# --- offers -------------------------------------------------------------------------------

BOARD = ("proposed", "accepted", "let", "refused", "expired", "withdrawn")


@pages.get("/aanbiedingen")
def offer_board(request: Request, session: SessionDep, caller: Caller):
    tx = texts_of(request)
    everything = call(
        offers.list_offers, caller, session=session, settings=request.app.state.settings
    )
    now = dt.datetime.now(dt.UTC)
    columns = {status: [] for status in BOARD}
    for offer in sorted(everything, key=lambda o: o.id, reverse=True):
        columns.setdefault(offer.status, []).append(offer)
    days_left = {
        o.id: max(0, (o.expires_at - now).days) for o in everything if o.status == "proposed"
    }
    return page(
        request,
        "offers.html",
        title=tx.gettext("Offers"),
        columns=columns,
        days_left=days_left,
        ref=lambda c: client_ref(request, c),
    )


ANSWERS = {
    "accepteren": (offers.accept_offer, N_("The offer is accepted.")),
    "intrekken": (offers.withdraw_offer, N_("The offer is withdrawn.")),
    "verhuurd": (offers.let_offer, N_("The dwelling is let; the client is housed.")),
}


@pages.post("/aanbiedingen/{offer_id}/weigeren", dependencies=Csrf)
def offer_refuse(
    request: Request, offer_id: RowId, session: SessionDep, caller: Caller, form: Form
):
    tx = texts_of(request)
    body, _ = parse(RefuseIn, {"reason": text(form, "reason")}, tx)
    if body is None:
        raise ServiceProblem(422, tx.gettext("Give the reason the client refused."))
    call(offers.refuse_offer, caller, offer_id=offer_id, body=body, session=session)
    return redirect(request, "/aanbiedingen", tx.gettext("The refusal is recorded."))


@pages.post("/aanbiedingen/{offer_id}/{answer}", dependencies=Csrf)
def offer_answer(
    request: Request, offer_id: RowId, answer: str, session: SessionDep, caller: Caller
):
    if answer not in ANSWERS:
        raise not_found("action", answer)
    func, message = ANSWERS[answer]
    call(func, caller, offer_id=offer_id, session=session)
    return redirect(request, "/aanbiedingen", texts_of(request).gettext(message))


# --- audit trail --------------------------------------------------------------------------

ENTITIES = ("client", "offer", "run", "vacancy", "municipality", "complex", "api_key", "region")


def audit_page(request, session, caller, filters: dict[str, Any]):
    tx = texts_of(request)
    since = filters.get("since")
    events = call(
        audit.read_audit_trail, caller, session=session,
        entity=filters.get("entity") or None, entity_id=filters.get("entity_id") or None,
        actor=filters.get("actor") or None,
        since=dt.datetime.combine(since, dt.time(), dt.UTC) if since else None,
        page=first_page(300),
    )  # fmt: skip
    return page(
        request, "audit.html", title=tx.gettext("Audit trail"), events=events,
        filters=filters, entities=ENTITIES, audit=AuditWords(tx),
    )  # fmt: skip


@pages.get("/logboek")
def audit_trail(request: Request, session: SessionDep, caller: Caller):
    return audit_page(request, session, caller, {})


@pages.post("/logboek", dependencies=Csrf)
def audit_filter(request: Request, session: SessionDep, caller: Caller, form: Form):
    """Filtered by a form sent as POST: a client's pseudonym or a person's name in a filter
    stays out of the URL."""
    since = None
    if text(form, "since"):
        try:
            since = dt.date.fromisoformat(text(form, "since"))
        except ValueError:
            since = None
    entity = text(form, "entity")
    filters = {
        "entity": entity if entity in ENTITIES else None,
        "entity_id": text(form, "entity_id"),
        "actor": text(form, "actor"),
        "since": since,
    }
    return audit_page(request, session, caller, filters)


# --- the acceptance model -----------------------------------------------------------------

#: What one step of each term of the model is, in the words of the page (``FEATURE_TEXT`` in
#: allocator/acceptance.py says the same in English for the API).
TERM_TEXT = {
    "rank": N_("each place further down the client's list of municipalities than the first"),
    "rent_over_limit": N_(
        "each 10 percentage points that the rent is above 80 percent of the client's rent limit"
    ),
    "distance": N_("each 10 km from the client's first municipality"),
}


def _term_words(tx, term) -> dict[str, Any]:
    """One term of the model in a sentence: how a step changes the odds of accepting, the 95%
    interval, and whether the history can tell an effect from none."""
    step = tx.gettext(TERM_TEXT.get(term.feature, term.meaning))
    if term.ci_low is None or term.ci_high is None:
        return {
            "step": step,
            "odds": None,
            "interval": None,
            "words": tx.gettext(
                "Not estimated: in the history this does not vary, or the history is too small."
            ),
        }
    odds = round(term.odds_ratio, 2)
    low, high = round(math.exp(term.ci_low), 2), round(math.exp(term.ci_high), 2)
    values = {"odds": tx.number(odds), "low": tx.number(low), "high": tx.number(high)}
    if term.ci_high < 0:
        words = tx.gettext(
            "Fewer accept: the odds of accepting are multiplied by %(odds)s (95%% interval "
            "%(low)s to %(high)s).",
            **values,
        )
    elif term.ci_low > 0:
        words = tx.gettext(
            "More accept: the odds of accepting are multiplied by %(odds)s (95%% interval "
            "%(low)s to %(high)s).",
            **values,
        )
    else:
        words = tx.gettext(
            "The history cannot tell whether this matters: the odds of accepting are "
            "multiplied by %(odds)s, but the 95%% interval (%(low)s to %(high)s) includes 1, "
            "no effect.",
            **values,
        )
    return {
        "step": step,
        "odds": tx.number(odds),
        "interval": tx.gettext("%(low)s to %(high)s", low=values["low"], high=values["high"]),
        "words": words,
    }


@pages.get("/acceptatiemodel")
def acceptance_model(request: Request, session: SessionDep, caller: Caller):
    """The region's acceptance model as the API gives it (``GET /acceptance-model``, its own
    role check), in words: base chance per target group, each term's odds ratio with its
    interval, and the answered offers it rests on."""
    tx = texts_of(request)
    model = call(acceptance.read_acceptance_model, caller, session=session)
    fitted = any(term.ci_low is not None for term in model.terms)
    return page(
        request,
        "acceptance.html",
        title=tx.gettext("Acceptance model"),
        model=model,
        fitted=fitted,
        groups=[
            (group, chance, model.offers_by_target_group.get(group, 0))
            for group, chance in sorted(model.base_by_target_group.items())
        ],
        terms=[_term_words(tx, term) for term in model.terms],
    )
