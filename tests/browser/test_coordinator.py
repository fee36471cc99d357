"""The coordinator's working week in a real browser: sign in, overview, make a proposal, open an
explanation, compare alternatives, make offers, accept one, refuse one with a reason, run again
(the accepted offer pinned, the refused dwelling gone for that client), the audit trail, the
acceptance model."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import LAPTOP, TABLET, sign_in


def make_proposal(page: Page, service) -> int:
    page.goto(service.url + "/voorstellen")
    page.get_by_role("button", name="Maak een voorstel").click()
    page.wait_for_url(re.compile(r".*/voorstellen/\d+$"))
    # the progress region polls until the run is done, then the page shows the proposal
    expect(page.get_by_role("heading", name="Regels van het voorstel")).to_be_visible(
        timeout=60_000
    )
    return int(page.url.rsplit("/", 1)[1])


def lines(page: Page) -> dict[str, dict[str, str]]:
    """The proposal's lines: client → its dwelling and what the first column says."""
    found = {}
    rows = page.locator("table:has(caption), table").filter(has=page.locator("#pick-1, th"))
    for row in page.locator("tr[id^=line-]").all():
        client = row.locator("th").first.inner_text().strip()
        cells = row.locator("td").all_inner_texts()
        found[client] = {"unit": cells[1].strip(), "first": cells[0].strip()}
    assert rows.count() > 0
    return found


def test_the_coordinators_week(page: Page, service, check):
    sign_in(page, service, "coordinator")
    expect(page.get_by_role("status")).to_contain_text("U bent ingelogd")
    expect(page.get_by_role("heading", level=1)).to_have_text("Overzicht")
    check(page, "coordinator-overview")

    run_id = make_proposal(page, service)
    check(page, "coordinator-proposal")
    first = page.locator("tr[id^=line-]").filter(has=page.locator("input[type=checkbox]")).first
    first.get_by_text("Toelichting", exact=True).click()
    expect(first.locator("details p").first).to_contain_text("wachtte")

    # alternatives of the first open line, with what each costs the others
    first.get_by_text("Alternatieven en wijzigen").click()
    alternatives = first.locator("table")
    expect(alternatives).to_be_visible(timeout=30_000)
    expect(alternatives.locator("tbody tr").first).to_be_visible()
    check(page, "coordinator-alternatives")

    # offer the first three open lines
    open_lines = page.locator("tr[id^=line-] input[type=checkbox]")
    chosen = [open_lines.nth(i).get_attribute("value") for i in range(3)]
    before = lines(page)
    for i in range(3):
        open_lines.nth(i).check()
    page.get_by_role("button", name="Aangevinkte regels aanbieden").click()
    expect(page.get_by_role("status")).to_contain_text("3 aanbiedingen gedaan")

    # the offers board: accept the first, refuse the second with a reason
    page.get_by_role("link", name="Aanbiedingen", exact=True).click()
    check(page, "coordinator-offers")
    proposed = page.locator("section", has=page.locator("#col-proposed"))
    accepted_client, refused_client = chosen[0], chosen[1]
    row = proposed.locator("tr", has=page.get_by_role("link", name=accepted_client))
    row.get_by_role("button", name=re.compile("Geaccepteerd")).click()
    expect(page.get_by_role("status")).to_contain_text("geaccepteerd")
    row = proposed.locator("tr", has=page.get_by_role("link", name=refused_client))
    row.get_by_text("Geweigerd", exact=True).click()
    row.get_by_label("Reden van weigering").fill("te ver van het werk")
    row.get_by_role("button", name=re.compile("Weigering")).click()
    expect(page.get_by_role("status")).to_contain_text("De weigering is vastgelegd")
    refused_section = page.locator("section", has=page.locator("#col-refused"))
    expect(refused_section).to_contain_text("te ver van het werk")

    # run again: the accepted offer is pinned, the refused dwelling is gone for that client
    second = make_proposal(page, service)
    assert second != run_id
    after = lines(page)
    assert after[accepted_client]["unit"] == before[accepted_client]["unit"]
    assert after[accepted_client]["first"] == "geaccepteerd"
    refused_unit = before[refused_client]["unit"]
    assert after.get(refused_client, {}).get("unit") != refused_unit
    check(page, "coordinator-proposal-again")
    page.set_viewport_size(TABLET)  # the widest page stays usable on a tablet
    check(page, "tablet-proposal")
    page.set_viewport_size(LAPTOP)

    # changing a line by hand to the refused dwelling: the rule it breaks, next to the line
    if refused_client in after:
        row = page.locator("tr[id^=line-]", has=page.locator(f"th:text-is('{refused_client}')"))
        row.get_by_text("Alternatieven en wijzigen").click()
        row.get_by_label("Een andere woning aanbieden").fill(refused_unit)
        row.get_by_role("button", name="Deze aanbieden").click()
        row = page.locator("tr.bad", has=page.locator(f"th:text-is('{refused_client}')"))
        expect(row.locator(".error-message").first).to_contain_text(
            "breekt regel 6: niet eerder geweigerd"
        )
        check(page, "coordinator-line-changed-by-hand")

    # the audit trail, filtered to offers
    page.get_by_role("link", name="Logboek").click()
    expect(page.locator("main table")).to_contain_text("aanbieding: geaccepteerd")
    expect(page.locator("main table")).to_contain_text("aanbieding: geweigerd")
    page.get_by_label("Soort").select_option("offer")
    page.get_by_role("button", name="Filteren").click()
    expect(page.locator("main tbody tr").first).to_contain_text("aanbieding")
    expect(page.locator("main table")).not_to_contain_text("offer.")
    # every detail in words: no key such as corporation_id shown as stored
    expect(page.locator("main table")).not_to_contain_text("_id")
    assert "WF-C" not in page.url
    check(page, "coordinator-audit")

    # the acceptance model, with the answered offers it rests on (this week's among them)
    page.get_by_role("link", name="Acceptatiemodel", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Acceptatiemodel")
    history = page.locator("section", has=page.get_by_role("heading", name="De geschiedenis"))
    expect(history).to_contain_text("beantwoorde aanbiedingen")
    expect(history).to_contain_text("laatste antwoord")
    expect(page.get_by_role("heading", name="Basiskans per doelgroep")).to_be_visible()
    expect(page.locator("main table").last).to_contain_text("elke plaats lager")
    check(page, "coordinator-acceptance-model")

    # a client's page: its history, reached by a link without the pseudonym in the URL
    page.get_by_role("link", name="Cliënten").click()
    check(page, "coordinator-clients")
    page.get_by_role("link", name=refused_client, exact=True).click()
    assert refused_client not in page.url
    expect(page.locator("main")).to_contain_text("te ver van het werk")
    check(page, "coordinator-client")


def test_a_proposal_not_proven_best_says_by_how_much_it_could_improve(page: Page, service, check):
    """The demo region is proven in milliseconds: the stored proposal's levels are set as a
    timed-out national run leaves them, and the page says the gap under the cards, in words."""
    from sqlalchemy import select

    from service import tables as t
    from service.db import get_sessionmaker

    sign_in(page, service, "coordinator")
    run_id = make_proposal(page, service)
    expect(page.locator("#gap")).to_have_count(0)
    with get_sessionmaker(service.database_url)() as session:
        run = session.scalars(select(t.Run).where(t.Run.id == run_id)).one()
        proposal = dict(run.proposal)
        placed = proposal["objective"]["placed"]
        proposal["status"], proposal["proven"] = "feasible", False
        proposal["solver"] = {**proposal["solver"], "levels": [
            {"level": "placed", "status": "optimal", "value": placed, "bound": float(placed),
             "gap": 0.0, "wall_seconds": 1.0},
            {"level": "waiting_days", "status": "feasible", "value": 20_000,
             "bound": 21_234.0, "gap": 0.06, "wall_seconds": 60.0},
        ]}  # fmt: skip
        run.proposal = proposal
        session.commit()
    page.reload()
    expect(page.locator("#gap")).to_have_text(
        "Niet bewezen beste: de wachttijden van de geplaatste cliënten kunnen samen hooguit "
        "1.234 dagen langer zijn."
    )
    check(page, "coordinator-proposal-not-proven")


def test_the_acceptance_model_in_words_on_a_real_history(page: Page, service, check):
    """400 answered offers (a first-choice dwelling accepted more often) written into the
    service's database: the page shows the fitted terms in words, with their intervals."""
    from types import SimpleNamespace

    from tests.service.test_acceptance_model import _answered_offers

    database = f"sqlite:///{service.log.parent / 'service.sqlite3'}"
    made, _ = _answered_offers(SimpleNamespace(database_url=database))
    api = service.api("GET", "/acceptance-model", service.keys["coordinator"]).json()
    assert api["offers"] >= made
    sign_in(page, service, "coordinator")
    page.get_by_role("link", name="Acceptatiemodel", exact=True).click()
    main = page.locator("main")
    cards = main.locator(".cards li")
    expect(cards.nth(0)).to_have_text(re.compile(rf"^\s*{api['offers']}\s+beantwoorde"))
    expect(cards.nth(1)).to_have_text(re.compile(rf"^\s*{api['accepted']}\s+geaccepteerd"))
    expect(cards.nth(2)).to_have_text(re.compile(rf"^\s*{api['refused']}\s+geweigerd"))
    rank = page.locator("tr", has=page.get_by_role("rowheader", name=re.compile("elke plaats")))
    expect(rank).to_contain_text("Minder cliënten accepteren")
    expect(rank.locator("td").nth(1)).to_contain_text(" tot ")
    expect(main).not_to_contain_text("te klein of te eenvormig")
    check(page, "coordinator-acceptance-model-fitted")
