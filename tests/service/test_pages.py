"""The pages without a browser (TestClient): sign-in and its cookie, CSRF, roles as the API's,
templates per table, the offline docs, and the message catalogues."""

from __future__ import annotations

import html
import re
import time
from io import BytesIO
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo, write_mo
from babel.messages.pofile import read_po
from openpyxl import load_workbook

from allocator.io import table_rows
from allocator.spreadsheet import read_csv, read_workbook
from service.web import page_routers
from service.web.pages.spreadsheets import TABLES

WEB = Path(__file__).resolve().parents[2] / "service/web"


def csrf_of(page) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(client, key: dict[str, str]) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/aanmelden"))
    answer = client.post(
        "/aanmelden", data={"key": key["X-API-Key"], "csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/sjablonen"))


def test_the_root_is_a_page_not_a_json_404(client):
    answer = client.get("/", follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/aanmelden"
    page = client.get("/")
    assert page.headers["content-type"].startswith("text/html")
    assert '<html lang="nl">' in page.text and "Inloggen" in page.text


def test_the_session_cookie_is_httponly_samesite_signed_and_expiring(client, keys, settings):
    token = csrf_of(client.get("/aanmelden"))
    answer = client.post(
        "/aanmelden",
        data={"key": keys.coordinator["X-API-Key"], "csrf_token": token},
        follow_redirects=False,
    )
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    assert f"Max-Age={int(settings.session_hours * 3600)}" in cookie
    assert keys.coordinator["X-API-Key"] not in cookie and "WF-" not in cookie
    assert client.get("/overzicht").status_code == 200
    # a tampered cookie is no session
    value = client.cookies.get("uitstroom_session")
    client.cookies.set("uitstroom_session", value[:-3] + "AAA")
    assert client.get("/overzicht", follow_redirects=False).status_code == 303


def test_a_session_ends_when_its_hours_are_up_or_its_key_is_revoked(client, keys):
    sign_in(client, keys.coordinator)
    assert client.get("/overzicht").status_code == 200
    client.app.state.settings.session_hours = 1 / 3600  # one second
    time.sleep(1.2)
    assert client.get("/overzicht", follow_redirects=False).status_code == 303
    client.app.state.settings.session_hours = 8
    sign_in(client, keys.coordinator)
    key_id = next(
        k["id"] for k in client.get("/api-keys", headers=keys.admin).json()
        if k["name"] == "test coordinator"
    )  # fmt: skip
    assert client.delete(f"/api-keys/{key_id}", headers=keys.admin).status_code == 200
    assert client.get("/overzicht", follow_redirects=False).status_code == 303


def test_every_form_needs_its_csrf_token(client, keys):
    token = sign_in(client, keys.coordinator)
    for path in ("/voorstellen", "/afmelden", "/taal", "/clienten/nieuw", "/logboek"):
        assert client.post(path, data={}, follow_redirects=False).status_code == 403, path
        assert client.post(path, data={"csrf_token": "x" + token}).status_code == 403, path
    assert client.get("/runs", headers=keys.coordinator).json() == []
    # with the token it works; htmx sends it as a header
    assert client.post("/voorstellen", headers={"X-CSRF-Token": token}).status_code == 200


def test_a_wrong_key_is_refused_and_nothing_personal_is_in_a_url(client, keys):
    token = csrf_of(client.get("/aanmelden"))
    answer = client.post("/aanmelden", data={"key": "alk_nope", "csrf_token": token})
    assert answer.status_code == 401 and "niet geldig" in answer.text
    sign_in(client, keys.coordinator)
    page = client.get("/clienten")
    links = re.findall(r'href="(/clienten/[^"]+)"', page.text)
    assert len(links) > 50
    assert not [link for link in links if "WF-C" in link]
    detail = client.get(links[-1])
    assert detail.status_code == 200 and "WF-C" in detail.text


@pytest.mark.parametrize(
    ("role", "path", "status"),
    [
        ("planner", "/clienten", 403),
        ("planner", "/overzicht", 200),
        ("corporation", "/overzicht", 403),
        ("corporation", "/corporatie", 200),
        ("corporation", "/planner", 403),
        ("admin", "/clienten", 403),
        ("admin", "/logboek", 200),
        ("coordinator", "/beheer", 403),
        ("coordinator", "/planner", 200),
    ],
)
def test_pages_answer_with_the_apis_own_role_checks(client, keys, role, path, status):
    sign_in(client, keys.of(role))
    assert client.get(path).status_code == status


def test_a_corporation_page_shows_only_its_own_offers(client, keys):
    sign_in(client, keys.corporation)  # corp-a
    text = client.get("/corporatie").text
    assert "WF-U007" in text and "WF-U057" not in text  # the demo's accepted offers
    assert not re.search(r"WF-C\d+", text)


@pytest.mark.parametrize("table", list(TABLES))
@pytest.mark.parametrize("lang", ["nl", "en"])
def test_templates_per_table_read_back_with_the_one_reader(client, keys, table, lang):
    sign_in(client, keys.corporation)
    csv = client.get(f"/sjablonen/{table}.{lang}.csv")
    assert csv.status_code == 200
    if lang == "nl":
        assert csv.content.startswith(b"\xef\xbb\xbf") and b";" in csv.content
    xlsx = client.get(f"/sjablonen/{table}.{lang}.xlsx")
    book = load_workbook(BytesIO(xlsx.content))
    assert len(book.sheetnames) == 2  # the table and its explanation
    model = TABLES[table]
    for raw in (read_csv(csv.content), read_workbook(xlsx.content)[table]):
        rows, issues, _ = table_rows(table, model, raw)
        assert rows == [] and issues == []  # every column known, none missing


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_templates_page_names_every_table_in_the_pages_language(client, keys, lang):
    from service.web.i18n import Texts
    from service.web.words import TABLES as TABLE_WORDS

    assert set(TABLES) <= set(TABLE_WORDS), "a table without its name in words.TABLES"
    sign_in(client, keys.coordinator)
    client.cookies.set("lang", lang)
    page = client.get("/sjablonen").text
    named = re.findall(r'<th scope="row">([^<]+)</th>', page)
    assert len(named) == len(TABLES)
    if lang == "nl":
        assert {"wijken", "begeleiders"} <= set(named)
        assert not set(named) & set(TABLES), named  # no table under its English key
        assert all(Texts("nl").gettext(t) != t for t in TABLES)
    else:
        assert {"neighbourhoods", "support providers"} <= set(named)
    for table in ("neighbourhoods", "support_providers"):
        for kind in ("csv", "xlsx"):
            answer = client.get(f"/sjablonen/{table}.{lang}.{kind}")
            assert answer.status_code == 200 and answer.content, (table, kind)


def test_the_api_documentation_needs_no_internet(client):
    for path in ("/docs", "/redoc"):
        html = client.get(path).text
        assert "http" not in html.replace(client.base_url.host, ""), html
        for asset in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert client.get(asset).status_code == 200, asset


def test_every_page_route_is_a_page(client):
    paths = {r.path for router in page_routers() for r in router.routes}
    assert {"/", "/overzicht", "/voorstellen/{run_id}", "/corporatie", "/planner"} <= paths
    api = {getattr(r, "path", None) for r in client.app.routes}
    assert not paths & {p for p in api if p}, "a page path shadows an API path"


# --- the message catalogues ---------------------------------------------------------------


def _extracted() -> set:
    found = set()
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    for _, _, message, _, _ in extract_from_dir(
        str(WEB), method_map, options_map=options, keywords=keywords
    ):
        found.add(_key(message))
    return found


@pytest.mark.parametrize("lang", ["nl", "en"])
def test_the_catalogues_hold_every_message_and_are_compiled(lang):
    folder = WEB / f"locale/{lang}/LC_MESSAGES"
    catalogue = read_po((folder / "messages.po").open("rb"))
    ids = {_key(m.id) for m in catalogue if m.id}
    missing = _extracted() - ids
    assert not missing, f"not in the {lang} catalogue (run make messages): {missing}"
    # the compiled catalogue says what the .po says, message by message (the header carries the
    # version of Babel that compiled it, which need not be this one)
    fresh = BytesIO()
    write_mo(fresh, read_po((folder / "messages.po").open("rb")))
    fresh.seek(0)

    def messages(mo) -> dict:
        return {_key(m.id): _key(m.string) for m in read_mo(mo) if m.id}

    committed = messages((folder / "messages.mo").open("rb"))
    assert messages(fresh) == committed, "the .mo is older than the .po (run make messages)"
    if lang == "nl":
        untranslated = [m.id for m in catalogue if m.id and not all(_strings(m.string))]
        assert not untranslated, untranslated
    # compiling leaves a fuzzy entry out, so its page would show the bare msgid
    fuzzy = [m.id for m in catalogue if m.id and m.fuzzy]
    assert not fuzzy, fuzzy
    if lang == "en":
        # a key such as ``api_key`` or ``above_income_limit`` is no English: it needs its words
        bare = [
            m.id
            for m in catalogue
            if isinstance(m.id, str) and "_" in m.id and " " not in m.id and not m.string
        ]
        assert not bare, bare


def _key(value):
    return tuple(value) if isinstance(value, tuple | list) else value


def _strings(value) -> list[str]:
    return list(value) if isinstance(value, tuple | list) else [value]


def test_no_hard_coded_text_in_templates():
    """Every word a person reads comes from the catalogue: strip tags, Jinja expressions and
    statements from each template, and no word should be left (names of languages and file
    kinds excepted, which are the same in every language)."""
    allowed = {"Nederlands", "English", "CSV", "—", "–", "·", "→", "…", "(", ")", ":", ",", "%"}
    for template in (WEB / "templates").glob("*.html"):
        text = template.read_text()
        text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", text, flags=re.S)
        text = re.sub(r"<script.*?</script>|<style.*?</style>|<svg.*?</svg>", " ", text, flags=re.S)
        text = re.sub(r"<[^>]+>", " ", text)
        words = [w for w in text.split() if w not in allowed and re.search(r"[A-Za-z]", w)]
        assert not words, f"{template.name}: {words[:10]}"


def test_a_client_is_changed_and_withdrawn_through_the_pages(client, keys):
    token = sign_in(client, keys.coordinator)
    page = client.get("/clienten?status=ready")
    link = re.findall(r'href="(/clienten/[0-9a-f]{20})">(WF-C\d+)<', page.text)[0]
    path, client_id = link
    answer = client.post(
        path,
        data={"csrf_token": token, "household_size": "2", "max_rent": "701,5",
              "target_group": "MO", "preferred_1": "hoorn", "preferred_2": "opmeer"},
    )  # fmt: skip
    assert answer.status_code == 200 and "De wijzigingen zijn opgeslagen" in answer.text
    stored = client.get(f"/clients/{client_id}", headers=keys.coordinator).json()
    assert stored["max_rent"] == 701.5 and stored["household_size"] == 2
    assert stored["preferred_municipalities"] == ["hoorn", "opmeer"]
    # a change the API refuses is shown on the form, and nothing is stored
    answer = client.post(
        path, data={"csrf_token": token, "household_size": "0", "target_group": "MO"}
    )
    assert answer.status_code == 422 and 'aria-invalid="true"' in answer.text
    answer = client.post(f"{path}/intrekken", data={"csrf_token": token, "reason": "verhuisd"})
    assert answer.status_code == 200 and "afgemeld" in answer.text
    assert client.get(f"/clients/{client_id}", headers=keys.coordinator).json()["status"] == (
        "withdrawn"
    )
    history = client.get(path).text
    assert "cliënt: gewijzigd" in history and "cliënt: ingetrokken" in history
    assert "client.changed" not in history and "velden: " in history
    trail = html.unescape(client.get("/logboek").text)
    assert "cliënt: ingetrokken" in trail and "vorige status: uitstroomklaar" in trail
    assert "client.withdrawn" not in trail and "previous" not in trail


def test_every_audit_action_is_said_in_dutch():
    """Both halves of every action the service records ("offer.refused"), found in the
    service's own source, are in the nl catalogue; statuses fill the halves written from data."""
    from service.web.i18n import translations
    from service.web.words import WORDS

    catalogue = translations("nl")._catalog
    source = "\n".join(p.read_text() for p in (WEB.parent).rglob("*.py"))
    actions = re.findall(r'\brecord\(\s*[\w.]+,\s*[\w.]+,\s*f?"([^"]+)"', source)
    assert len(actions) > 20
    words = set()
    for action in actions:
        what, _, happened = action.rpartition(".")
        for half in (what, happened):
            words |= set(WORDS) if half.startswith("{") else {half}
    words |= {"run", "scenario_run"}  # f"{kind}.requested", f"{kind.name}.started"
    assert not [w for w in words if not catalogue.get(w)]


def test_an_xlsx_upload_with_dutch_columns_through_the_page(client, keys):
    from openpyxl import Workbook

    token = sign_in(client, keys.corporation)
    book = Workbook()
    sheet = book.active
    sheet.title = "woningen"
    sheet.append(["Code", "Complex", "Corporatie", "Kamers", "Huur", "Rolstoeltoegankelijk",
                  "Max bewoners"])  # fmt: skip
    sheet.append(["X-1", "cx-hoorn-1", "corp-a", 2, 566.58, "WAAR", 2])
    buffer = BytesIO()
    book.save(buffer)
    answer = client.post(
        "/woningen/upload",
        data={"csrf_token": token},
        files={"file": ("woningen.xlsx", buffer.getvalue(), "application/octet-stream")},
    )
    assert answer.status_code == 200 and "1 woning is toegevoegd" in answer.text
    unit = client.get("/vacancies/X-1", headers=keys.corporation).json()
    assert unit["rent"] == 566.58 and unit["accessible"] is True


def test_every_reason_code_is_explained_in_both_languages():
    import json

    from service.web.explain import Explainer, core_codes
    from service.web.i18n import Texts

    demo = json.loads((WEB.parents[1] / "scenarios/westfriesland/instance.json").read_text())
    names = {"municipality_quota": ["hoorn"], "corporation_quota": ["corp-a"],
             "mix_cap": ["cx-hoorn-1"], "group_share": ["cx-hoorn-mm/BW"],
             "staircase": ["cx-hoorn-1/p1"], "neighbourhood_quota": ["hoorn-n1"],
             "support_places": ["support-1/hoorn"]}  # fmt: skip
    unplaced = {"removed_by_rule": {"not accessible": 2}, "removed_with_others": {}}
    assert set(names) | {"no_eligible_unit"} <= core_codes()
    for lang, words in (("nl", "passende woning"), ("en", "eligible dwelling")):
        explain = Explainer(Texts(lang), demo)
        for code in core_codes():
            reason = {"code": code, "count": 3, "names": names.get(code, []), "message": "?"}
            text = explain.reason(reason, unplaced)
            assert text != "?" and (words in text or code == "equally_good"), (lang, code, text)
        line = {"client_id": "WF-C002", "municipality_id": "hoorn", "preference_rank": 2,
                "waiting_days": 40, "eligible_units": 5}  # fmt: skip
        assert "Hoorn" in explain.line(line) and "2" in explain.line(line)


def test_a_browser_gets_a_page_for_an_unknown_address_and_the_api_its_problem(client):
    page = client.get("/nergens", headers={"Accept": "text/html,application/xhtml+xml"})
    assert page.status_code == 404 and "Niet gevonden" in page.text
    api = client.get("/nergens")
    assert api.status_code == 404 and api.headers["content-type"] == "application/problem+json"


def test_the_policy_form_keeps_the_objective_and_reads_a_dutch_share(client, keys):
    before = client.get("/policy", headers=keys.admin).json()
    client.put(
        "/policy", headers=keys.admin,
        json={**before, "objective": ["placed", "rank_sum", "waiting_days"]},
    )  # fmt: skip
    token = sign_in(client, keys.admin)
    answer = client.post(
        "/beheer/beleid",
        data={"csrf_token": token, "name": "Westfriesland", "max_vulnerable_share": "0,25"},
    )
    assert answer.status_code == 200 and "Opgeslagen" in answer.text
    after = client.get("/policy", headers=keys.admin).json()
    assert after["max_vulnerable_share"] == 0.25 and after["name"] == "Westfriesland"
    assert after["objective"] == ["placed", "rank_sum", "waiting_days"]


@pytest.mark.parametrize(
    ("message", "dutch"),
    [
        ("Input should be a valid number, unable to parse string as a number", "geen getal"),
        ("Input should be greater than or equal to 1", "ten minste 1"),
        ("expected yes or no (true/false, ja/nee, WAAR/ONWAAR, 1/0), got 'x'", "ja of nee"),
        ("unknown complex 'cx-9'", "geen complex cx-9"),
        ("vacancy 'U-1' already exists", "Woning U-1 bestaat al"),
        ("missing column (in Dutch: huur)", "ontbreekt"),
        ("something else entirely", "something else entirely"),
    ],
)
def test_upload_problems_in_dutch(message, dutch):
    from service.web.explain import issue_text
    from service.web.i18n import Texts

    assert dutch in issue_text(Texts("nl"), message)


def test_a_broken_rule_of_an_offer_in_words():
    from service.web.explain import issue_text
    from service.web.i18n import Texts

    message = (
        "Offering WF-U017 to WF-C010 breaks rule 6 (not refused): client WF-C010 in unit "
        "WF-U017: the client refused this unit before"
    )
    assert issue_text(Texts("nl"), message) == (
        "WF-U017 aanbieden aan WF-C010 breekt regel 6: niet eerder geweigerd."
    )
    assert issue_text(Texts("en"), message) == (
        "Offering WF-U017 to WF-C010 breaks rule 6: not refused."
    )


# --- the acceptance model -------------------------------------------------------------------


def test_the_acceptance_model_page_shows_what_the_api_says_with_its_history(client, keys, settings):
    import datetime as dt

    from service.web.i18n import Texts
    from tests.service.test_acceptance_model import _answered_offers

    sign_in(client, keys.coordinator)
    menu = client.get("/overzicht").text
    assert 'href="/acceptatiemodel"' in menu and "Acceptatiemodel" in menu
    _answered_offers(settings)
    api = client.get("/acceptance-model", headers=keys.coordinator).json()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", client.get("/acceptatiemodel").text))
    # the history it rests on: offers, accepted, refused, first and last answer
    for label, value in (
        ("beantwoorde aanbiedingen", api["offers"]),
        ("geaccepteerd", api["accepted"]),
        ("geweigerd", api["refused"]),
    ):
        assert f" {value} {label}" in text, label
    assert "eerste antwoord" in text and "laatste antwoord" in text
    dutch = Texts("nl")
    for key in ("first_answer", "last_answer"):
        assert dutch.date(dt.datetime.fromisoformat(api[key])) in text, key
    # the base chance per target group, as a percentage, with the offers it rests on
    for group, chance in api["base_by_target_group"].items():
        percent = f"{round(chance * 100)}%"
        row = f" {group} {percent} {api['offers_by_target_group'][group]} "
        assert row in text, row
    # every term in words: rank lowers the odds, with its interval (decimal commas)
    rank = next(term for term in api["terms"] if term["feature"] == "rank")
    odds = f"{rank['odds_ratio']:.2f}".replace(".", ",")
    assert f"elke plaats lager op de gemeentelijst van de cliënt dan de eerste {odds}" in text
    assert "Minder cliënten accepteren: de odds op acceptatie worden vermenigvuldigd met" in text
    assert "elke 10 km van de eerste gemeente van de cliënt — — Niet geschat" in text


def test_the_acceptance_model_page_without_history_and_for_other_roles(client, keys, settings):
    from sqlalchemy import delete

    from service import tables as t
    from service.db import get_sessionmaker

    sign_in(client, keys.coordinator)
    page = client.get("/acceptatiemodel")
    assert page.status_code == 200  # the demo's few answers: shares per group, and it says so
    assert "De geschiedenis is te klein of te eenvormig" in page.text
    assert "Niet geschat" in page.text
    with get_sessionmaker(settings.database_url)() as session:
        session.execute(delete(t.Offer))
        session.commit()
    page = client.get("/acceptatiemodel")
    assert "Er zijn nog geen beantwoorde aanbiedingen" in page.text
    assert "Nog geen enkele doelgroep heeft een beantwoorde aanbieding." in page.text
    sign_in(client, keys.planner)  # the API's own role check: the planner reads aggregates
    assert client.get("/acceptatiemodel").status_code == 200
    sign_in(client, keys.corporation)
    assert client.get("/acceptatiemodel").status_code == 403
    assert 'href="/acceptatiemodel"' not in client.get("/corporatie").text


def test_the_acceptance_model_page_calls_the_apis_route(client, keys, monkeypatch):
    """Through ``core.call`` of the API's own function: no second query, no second role check."""
    from service.routers import acceptance
    from service.web import core

    called = []
    real = core.call

    def spy(func, caller, /, **arguments):
        called.append(func)
        return real(func, caller, **arguments)

    monkeypatch.setattr("service.web.pages.coordinator.call", spy)
    sign_in(client, keys.coordinator)
    assert client.get("/acceptatiemodel").status_code == 200
    assert called == [acceptance.read_acceptance_model]
