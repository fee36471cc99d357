"""The planner's report in the page's language: the comparison tables from the run's KPI rows
with catalogue words, the plots drawn with the page language's texts, the Markdown download in
the same words; the API's report, plots and CSV stay the core's (English, machine-readable)."""

from __future__ import annotations

import html
import re

import matplotlib.pyplot as plt
import matplotlib.text
import pytest
import yaml

from allocator.simulation.report import PLOT_LABELS, PLOTS, figure
from allocator.simulation.runner import run_scenario
from allocator.simulation.scenario import parse_scenario
from service.web.i18n import Texts
from service.web.report import KPI_LABELS, PLOT_TEXTS, _group, plot_labels
from tests.service.test_pages import sign_in
from tests.service.test_scenario_runs import TINY, wait_for


def _text(page) -> str:
    """The page's words without its markup."""
    return html.unescape(re.sub(r"<[^>]+>", " ", page))


@pytest.fixture
def finished(client, keys) -> int:
    run_id = client.post("/scenario-runs", json={"scenario": TINY}, headers=keys.planner).json()
    run = wait_for(client, run_id["id"], keys.planner, timeout=60)
    assert run["status"] == "done", run
    sign_in(client, keys.planner)
    return run["id"]


def test_the_dutch_report_page_says_its_tables_in_dutch(client, finished):
    page = client.get(f"/planner/{finished}")
    assert page.status_code == 200
    main = page.text.partition("<main")[2]  # the page's own content, not the language switch
    assert main and 'lang="en"' not in main  # no part of the report is marked English any more
    words = _text(main)
    for dutch in (
        "Kengetallen: base",
        "Kengetallen: tight mix",
        "Kengetal",
        "cliënten gehuisvest",
        "mediaan dagen tot een woning, iedereen meegeteld (Kaplan–Meier)",
        "aanbiedingen gedaan",
        "huidige praktijk",
        "optimalisatie",
        "helderziend plafond",
        "Wie wacht het langst: base",
        "Plaatsingen per werkwijze",
        "Grafiek: Tijd tot een woning (PNG)",
        "De vergeleken werkwijzen",
        "een maatstaf, geen werkwijze: kent de instroom en elk antwoord vooraf (een bovengrens)",
        "Zo leest u dit",
    ):
        assert dutch in words, dutch
    for english in (
        "Key figures",
        "KPIs:",
        "clients housed",
        "median days to a home",
        "offers made",
        "today's practice",
        "clairvoyant ceiling",
        "Who waits longest",
        "Placements per policy",
        "Paired differences",
        "Scenario report",
        "How to read this",
        "The policies compared",
        "a reference, not a policy",
    ):
        assert english not in words, english
    # numbers the Dutch way: a decimal comma, e.g. "3,5 (2,0–5,0)"
    assert re.search(r"\d+,\d \(\d+,\d–\d+,\d\)", words)


def test_the_english_report_page_and_the_downloads_follow_the_pages_language(client, finished):
    client.cookies.set("lang", "en")
    words = _text(client.get(f"/planner/{finished}").text)
    assert "Key figures: base" in words and "clients housed" in words
    assert "today's practice" in words and "cliënten gehuisvest" not in words
    english = client.get(f"/planner/{finished}/report.md").text
    assert english.startswith("# Scenario report: tiny") and "| clients housed |" in english
    client.cookies.set("lang", "nl")
    dutch = client.get(f"/planner/{finished}/report.md")
    assert dutch.headers["content-disposition"].startswith("attachment")
    assert dutch.text.startswith("# Scenariorapport: tiny")
    assert (
        "| Kengetal | huidige praktijk |" in dutch.text and "| cliënten gehuisvest |" in dutch.text
    )
    assert "clients housed" not in dutch.text
    # the KPI CSV keeps the API's machine-readable columns in every language
    csv = client.get(f"/planner/{finished}/kpis.csv").text
    assert csv.splitlines()[0].startswith("variant,policy,")


def test_a_plot_asked_for_in_dutch_is_the_dutch_drawing(client, keys, finished):
    english = client.get(f"/scenario-runs/{finished}/plots/placements.png", headers=keys.planner)
    dutch = client.get(f"/planner/{finished}/plots/placements.png")
    assert dutch.headers["content-type"] == "image/png" and dutch.content.startswith(b"\x89PNG")
    assert dutch.content != english.content
    client.cookies.set("lang", "en")
    assert client.get(f"/planner/{finished}/plots/placements.png").content == english.content
    # the API lists the core's plots only, not the pages' translations
    run = client.get(f"/scenario-runs/{finished}", headers=keys.planner).json()
    assert sorted(run["plots"]) == sorted(PLOTS)


def _texts_of(fig) -> set[str]:
    return {t.get_text() for t in fig.findobj(matplotlib.text.Text) if t.get_text()}


def test_the_plots_take_their_words_from_the_caller():
    data = yaml.safe_load(TINY)
    data["start"] = data["start"].isoformat()
    results = run_scenario(parse_scenario(data).with_seeds([1]))
    labels = plot_labels(Texts("nl"))
    english_only = {v for k, v in PLOT_LABELS.items() if labels.get(k) != v}
    for name in PLOTS:
        dutch = _texts_of(figure(name, results, labels))
        english = _texts_of(figure(name, results))  # the CLI's, unchanged
        plt.close("all")
        assert not dutch & english_only, (name, dutch & english_only)
        assert english - dutch, name  # something was said differently
    placements = _texts_of(figure("placements", results, labels))
    assert {"Plaatsingen per werkwijze", "huidige praktijk", "optimalisatie"} <= placements
    waiting = _texts_of(figure("waiting", results, labels))
    assert {"weken sinds gereed", "aandeel nog zonder woning"} <= waiting
    assert "Placements per policy" in _texts_of(figure("placements", results))


def test_every_plot_text_and_table_row_has_its_words_in_the_catalogue():
    from allocator.simulation.table import KPI_ROWS

    assert set(PLOT_TEXTS) == {k for k in PLOT_LABELS if not k.startswith("policy.")}
    assert {(kpi, group) for kpi, group, _ in KPI_ROWS} == set(KPI_LABELS)
    nl = Texts("nl")
    untranslated = [m for m in [*PLOT_TEXTS.values(), *KPI_LABELS.values()] if nl.gettext(m) == m]
    assert untranslated == ["week", "week"]  # the one word both languages share
    # the core's groups in words, "none" being a client with no first choice
    assert _group("municipality=none", nl) == "geen gemeente van eerste keus"
    assert _group("municipality=hoorn", nl) == "gemeente hoorn"
    assert _group("target_group=BW", nl) == "doelgroep BW"
