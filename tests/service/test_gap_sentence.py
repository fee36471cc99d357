"""A proposal that is not proven best says on its page, in the page's language, which level could
still improve and by how much at most: the solver's own bound (``first_gap``), never a word of
the core's English."""

from __future__ import annotations

import html

import pytest
from sqlalchemy import select

from allocator.models import LevelFacts
from allocator.solver import first_gap
from service import tables as t
from service.db import get_sessionmaker
from service.web.explain import gap_sentence
from service.web.i18n import Texts
from tests.service.helpers import wait_for_run
from tests.service.test_pages import sign_in


def level(name: str, status: str, value: int | None, bound: float | None) -> dict:
    return {"level": name, "status": status, "value": value, "bound": bound, "gap": None,
            "wall_seconds": 0.1}  # fmt: skip


PROVEN = level("placed", "optimal", 40, 40.0)


@pytest.mark.parametrize(
    ("levels", "nl", "en"),
    [
        ([PROVEN, level("waiting_days", "optimal", 9, 9.0)], None, None),
        (
            [level("placed", "feasible", 40, 41.7)],
            "Niet bewezen beste: er kan hooguit 1 cliënt meer geplaatst worden.",
            "Not proven best: at most 1 more client could be placed.",
        ),
        (
            [level("placed", "feasible", 7096, 7108.0), level("waiting_days", "feasible", 5, 9.0)],
            "Niet bewezen beste: er kunnen hooguit 12 cliënten meer geplaatst worden.",
            "Not proven best: at most 12 more clients could be placed.",
        ),
        (
            [PROVEN, level("waiting_days", "feasible", 1_832_865, 1_834_867.4)],
            "Niet bewezen beste: de wachttijden van de geplaatste cliënten kunnen samen hooguit "
            "2.002 dagen langer zijn.",
            "Not proven best: the placed clients' waiting times could add up to at most 2,002 "
            "more days.",
        ),
        (
            [
                PROVEN,
                level("waiting_days", "optimal", 9, 9.0),
                level("rank_sum", "feasible", 80, 77.2),
            ],
            "Niet bewezen beste: de keuzenummers van de geplaatste cliënten kunnen samen hooguit 2 "
            "lager uitkomen.",
            "Not proven best: the placed clients' choice numbers could add up to at most 2 less.",
        ),
        (
            [PROVEN, level("expected_acceptance", "feasible", 31_250, 31_750.0)],
            "Niet bewezen beste: het verwachte aantal aanvaarde aanbiedingen kan hooguit 0,5 hoger "
            "zijn.",
            "Not proven best: the expected number of accepted offers could be at most 0.5 higher.",
        ),
        (
            [level("placed", "feasible", 3, None)],
            "Niet bewezen beste: de rekenmethode vond binnen de tijdslimiet geen grens.",
            "Not proven best: the solver found no bound in its time.",
        ),
    ],
    ids=["proven", "one-person", "people", "waiting-days", "ranks", "acceptance", "no-bound"],
)
def test_the_first_unproven_level_is_said_with_its_gap(levels, nl, en) -> None:
    assert gap_sentence(Texts("nl"), levels) == nl
    assert gap_sentence(Texts("en"), levels) == en


def test_a_later_level_waits_for_the_earlier_ones() -> None:
    """A placed level not proven hides what the waiting days' bound would say."""
    levels = [level("placed", "feasible", 10, 12.0), level("waiting_days", "feasible", 5, 900.0)]
    assert first_gap([LevelFacts.model_validate(lv) for lv in levels]) == ("placed", 2)


def test_the_proposal_page_says_the_gap_in_both_languages(client, keys, settings) -> None:
    """A run's stored proposal made unproven (the demo region is proven in milliseconds, so
    the stored levels are set as a timed-out national run left them): the page says the gap
    under the cards, and nothing of it when the proposal is proven."""
    token = sign_in(client, keys.coordinator)
    answer = client.post("/voorstellen", data={"csrf_token": token}, follow_redirects=False)
    run_id = int(answer.headers["location"].rsplit("/", 1)[1])
    assert wait_for_run(client, run_id, keys.coordinator)["status"] == "done"
    client.cookies.set("lang", "nl")
    assert 'id="gap"' not in client.get(f"/voorstellen/{run_id}").text  # proven: nothing said
    with get_sessionmaker(settings.database_url)() as session:
        run = session.scalars(select(t.Run).where(t.Run.id == run_id)).one()
        proposal = dict(run.proposal)
        placed = proposal["objective"]["placed"]
        proposal["status"], proposal["proven"] = "feasible", False
        proposal["solver"] = dict(proposal["solver"])
        proposal["solver"]["levels"] = [
            level("placed", "feasible", placed, placed + 3.0),
            level("waiting_days", "feasible", 100, 200.0),
        ]
        run.proposal = proposal
        session.commit()
    shown = {}
    for lang in ("nl", "en"):
        client.cookies.set("lang", lang)
        page = client.get(f"/voorstellen/{run_id}")
        assert page.status_code == 200
        shown[lang] = html.unescape(page.text)
    assert "Niet bewezen beste: er kunnen hooguit 3 cliënten meer geplaatst worden." in shown["nl"]
    assert "Not proven best: at most 3 more clients could be placed." in shown["en"]
    assert "beste gevonden" in shown["nl"] and "best found" in shown["en"]
