"""Corporations, planners and administrators in a real browser; the language switch, CSRF,
signed-out visitors, the offline API documentation and a tablet's width."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import TABLET, sign_in
from tests.dutch_excel import dutch_csv

HEADER = "id,complex_id,corporation_id,rooms,rent,accessible,min_occupants,max_occupants\n"
BAD = HEADER + (
    "NEW-1,cx-hoorn-1,corp-a,2,566.58,true,1,2\n"
    "NEW-2,cx-hoorn-1,corp-a,2,veel,true,1,2\n"
    "NEW-3,cx-nergens,corp-a,2,610.0,false,1,2\n"
)
GOOD = HEADER + (
    "NEW-1,cx-hoorn-1,corp-a,2,566.58,true,1,2\nNEW-2,cx-hoorn-1,corp-a,3,1234.5,false,1,3\n"
)


def test_a_corporation_uploads_a_file_with_two_bad_rows_then_a_good_one(
    page: Page, service, check, tmp_path
):
    sign_in(page, service, "corp-a")
    page.get_by_role("link", name="Woningen", exact=True).click()
    bad = tmp_path / "woningen.csv"
    bad.write_bytes(dutch_csv(BAD, "units"))  # what a Dutch Excel saves, Dutch column names
    page.get_by_label("Bestand (.csv of .xlsx)").set_input_files(str(bad))
    page.get_by_role("button", name="Uploaden").click()
    alert = page.locator("#upload-problems")
    expect(alert).to_contain_text("2 fouten; er is niets toegevoegd")
    rows = page.locator("table.upload tbody tr.bad")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("Huur: Dit is geen getal.")
    expect(rows.nth(0).locator("td.bad")).to_have_text("veel")
    expect(rows.nth(1)).to_contain_text("Complex: Er is geen complex cx-nergens.")
    expect(rows.nth(1).locator("td.bad")).to_have_text("cx-nergens")
    check(page, "corporation-upload-errors")
    assert "NEW-1" not in page.locator("main > .table-wrap").last.inner_text()

    good = tmp_path / "woningen-goed.csv"
    good.write_bytes(dutch_csv(GOOD, "units"))
    page.get_by_label("Bestand (.csv of .xlsx)").set_input_files(str(good))
    page.get_by_role("button", name="Uploaden").click()
    expect(page.get_by_role("status")).to_contain_text("2 woningen zijn toegevoegd")
    listed = page.locator("main > .table-wrap").last
    expect(listed).to_contain_text("NEW-2")
    expect(listed).to_contain_text("€ 1.234,50")
    check(page, "corporation-vacancies")


def test_a_corporation_sees_only_its_own_offers_and_allowed_fields(page: Page, service, check):
    sign_in(page, service, "corp-a")
    expect(page.get_by_role("heading", level=1)).to_have_text("Aanbiedingen op onze woningen")
    main = page.locator("main")
    # the demo has accepted offers on WF-U007 (corp-a) and WF-U057 (corp-c)
    expect(main).to_contain_text("WF-U007")
    expect(main).not_to_contain_text("WF-U057")
    text = main.inner_text()
    assert not re.search(r"WF-C\d+", text), "a client's pseudonym is shown to a corporation"
    for hidden in ("Doelgroep", "BW", "MO", "jeugd", "Voorkeur", "Geweigerd"):
        assert hidden not in text, hidden
    check(page, "corporation-offers")
    # the coordinator's pages are refused, with the API's own check
    for path in ("/clienten", "/aanbiedingen", "/voorstellen", "/logboek", "/beheer"):
        response = page.goto(service.url + path)
        assert response.status == 403, path
        expect(page.get_by_role("heading", level=1)).to_have_text("U mag dit niet doen")
    check(page, "corporation-forbidden")


def test_a_planner_runs_the_westfriesland_scenario_and_sees_its_plots(page: Page, service, check):
    sign_in(page, service, "planner")
    expect(page.get_by_role("heading", level=1)).to_have_text("Scenario's")
    check(page, "planner")
    page.get_by_label("Herhalingen (seeds)").fill("1")
    page.get_by_label("Alleen deze varianten").fill("base")
    page.get_by_role("button", name="Simulatie starten").click()
    page.wait_for_url(re.compile(r".*/planner/\d+$"))
    expect(page.get_by_role("heading", name="Grafieken")).to_be_visible(timeout=300_000)
    images = page.locator(".plots img")
    assert images.count() >= 1
    for i in range(images.count()):
        # each plot is its own request: wait until the browser has it, then that it decoded
        expect(images.nth(i)).to_have_js_property("complete", True, timeout=60_000)
        loaded = images.nth(i).evaluate("img => img.complete && img.naturalWidth > 0")
        assert loaded, images.nth(i).get_attribute("src")
    expect(page.locator(".report table").first).to_be_visible()
    with page.expect_download() as download:
        page.get_by_role("link", name="Alle kengetallen (CSV)").click()
    assert download.value.suggested_filename.endswith(".csv")
    check(page, "planner-report")
    # a planner sees no client
    assert page.goto(service.url + "/clienten").status == 403


def test_the_administrator_makes_a_key_and_sets_up_the_region(page: Page, service, check):
    sign_in(page, service, "admin")
    check(page, "admin-keys")
    page.get_by_label("Houder van de sleutel").fill("Bea Jansen")
    page.get_by_label("Rol").select_option("planner")
    page.get_by_role("button", name="Sleutel maken").click()
    key = page.locator(".key-once").inner_text().strip()
    assert key.startswith("alk_")
    assert key not in page.url
    page.get_by_role("link", name="Inrichting van de regio").click()
    check(page, "admin-region")
    row = page.locator("tr", has=page.get_by_role("rowheader", name="Opmeer"))
    row.get_by_label("Contingent van Opmeer", exact=True).fill("3")
    row.get_by_role("button", name="Contingent van Opmeer opslaan").click()
    expect(page.get_by_role("status")).to_contain_text("Opgeslagen")
    expect(row.get_by_label("Contingent van Opmeer", exact=True)).to_have_value("3")
    # the new key signs in as a planner
    page.get_by_role("button", name="Uitloggen").click()
    page.fill("#f-key", key)
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Scenario's")


def test_the_language_switch(page: Page, service, check):
    page.goto(service.url + "/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Inloggen")
    assert page.locator("html").get_attribute("lang") == "nl"
    page.get_by_role("button", name="English").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    assert page.locator("html").get_attribute("lang") == "en"
    page.fill("#f-key", service.keys["coordinator"])
    page.locator("main form button[type=submit]").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Overview")
    page.get_by_role("link", name="Vacancies", exact=True).click()
    expect(page.locator("main")).to_contain_text("€566.58")
    check(page, "english-vacancies")
    page.get_by_role("button", name="Nederlands").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Woningen")
    expect(page.locator("main")).to_contain_text("€ 566,58")


def test_a_form_without_its_csrf_token_is_refused(page: Page, service, check):
    sign_in(page, service, "coordinator")
    page.goto(service.url + "/voorstellen")
    page.evaluate("document.querySelectorAll('input[name=csrf_token]').forEach(e => e.remove())")
    page.get_by_role("button", name="Maak een voorstel").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Dit formulier is verlopen")
    check(page, "csrf-refused")
    runs = service.api("GET", "/runs", service.keys["coordinator"]).json()
    assert runs == []  # nothing was started


def test_a_signed_out_visitor_is_sent_to_sign_in_from_every_page(page: Page, service):
    from service.web import page_routers

    routes = [r for router in page_routers() for r in router.routes]
    paths = sorted(
        r.path.replace("{run_id}", "1").replace("{ref}", "x").replace("{table}", "units")
        .replace("{lang}", "nl").replace("{kind}", "csv").replace("{name}", "backlog")
        for r in routes
        if "GET" in r.methods and r.path not in ("/", "/aanmelden")
    )  # fmt: skip
    assert len(paths) >= 20
    assert "/acceptatiemodel" in paths
    for path in paths:
        page.goto(service.url + path)
        assert page.url == service.url + "/aanmelden", path
    # and after signing out, too
    sign_in(page, service, "coordinator")
    page.get_by_role("button", name="Uitloggen").click()
    expect(page.get_by_role("status")).to_contain_text("U bent uitgelogd")
    page.goto(service.url + "/overzicht")
    assert page.url == service.url + "/aanmelden"


def test_the_api_documentation_works_without_internet(page: Page, service, check):
    page.goto(service.url + "/docs")
    expect(page.locator(".swagger-ui .info .title")).to_contain_text("Uitstroom allocator")
    expect(page.locator(".opblock").first).to_be_visible()
    page.goto(service.url + "/redoc")
    expect(page.locator("h1").first).to_contain_text("Uitstroom allocator", timeout=20_000)
    # the page fixture fails the test if anything outside the service was requested


def test_pages_stay_usable_at_a_tablets_width(page: Page, service, check):
    page.set_viewport_size(TABLET)
    sign_in(page, service, "coordinator")
    for path in (
        "/overzicht",
        "/clienten",
        "/woningen",
        "/aanbiedingen",
        "/acceptatiemodel",
        "/sjablonen",
    ):
        page.goto(service.url + path)
        check(page, "tablet" + path.replace("/", "-"))


def test_sign_in_and_forms_by_keyboard(page: Page, service, check):
    page.goto(service.url + "/aanmelden")
    check(page, "sign-in")
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Direct naar de inhoud")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    outline = skip.evaluate("e => getComputedStyle(e).outlineStyle + getComputedStyle(e).boxShadow")
    assert "solid" in outline  # the focus is visible
    # the key field, then the button, by keyboard alone
    page.get_by_label("Uw sleutel").focus()
    page.keyboard.type(service.keys["coordinator"])
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overzicht")
    for path, name in (("/clienten/nieuw", "client-form"), ("/voorstellen", "proposals")):
        page.goto(service.url + path)
        check(page, name)
    # a form with mistakes says so next to the fields, and nothing is stored
    page.goto(service.url + "/clienten/nieuw")
    page.get_by_label("Pseudoniem").fill("NEW-C1")
    page.get_by_label("Grootte van het huishouden").fill("0")
    page.get_by_label("Doelgroep").fill("BW")
    page.get_by_role("button", name="Aanmelden").click()
    expect(page.locator("#e-household_size")).to_contain_text("ten minste 1")
    expect(page.get_by_label("Grootte van het huishouden")).to_have_attribute(
        "aria-invalid", "true"
    )
    check(page, "client-form-errors")
    page.get_by_label("Grootte van het huishouden").fill("2")
    page.get_by_label("Hoogste huur die de cliënt kan betalen (euro per maand)").fill("650,43")
    page.get_by_label("Keuze 1").select_option("hoorn")
    page.get_by_role("button", name="Aanmelden").click()
    expect(page.get_by_role("status")).to_contain_text("NEW-C1 is aangemeld")
    client = service.api("GET", "/clients/NEW-C1", service.keys["coordinator"]).json()
    assert client["max_rent"] == 650.43 and client["preferred_municipalities"] == ["hoorn"]
