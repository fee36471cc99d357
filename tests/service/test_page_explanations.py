"""The proposal page's reasons for an unplaced client, in Dutch and English, for every reason code
the core can emit (its fixed codes and each registered group limit's code): written by
``Explainer`` from the reason's structured fields, never the core's English sentence, and every
Dutch word from the nl catalogue. The instances are solved by the real core; the page is read
through the service with a signed-in coordinator."""

from __future__ import annotations

import dataclasses
import html
import json
import re
from pathlib import Path

import pytest

from allocator import rules
from allocator.alternatives import alternatives
from allocator.explain import make_proposal, propose
from allocator.io import read_instance
from allocator.models import REASON_CODES, LimitRef
from allocator.solver import solve
from service.web.explain import RULE_LABELS, RULE_NAMES, Explainer, core_codes
from service.web.i18n import Texts, translations
from tests.builders import client, complex_, instance, municipality, unit
from tests.service.helpers import wait_for_run
from tests.service.test_pages import sign_in
from tests.test_made_up_rule import ONE_PER_STREET

DEMO = Path(__file__).resolve().parents[2] / "scenarios" / "westfriesland" / "instance.json"
#: Words of the core's English explanations (and of the English page) that no Dutch sentence has.
ENGLISH = re.compile(
    r"\b(eligible|dwellings?|units?|raising|alone|blocks?|full|limits?|quota|placements?|"
    r"waited|held|none|cap|reached|room|support by|share of)\b",
    re.I,
)


#: The core's own phrasing, which the page's English does not repeat.
ENGLISH_CORE = re.compile(r"unit\(s\)|It alone blocks|opens no unit|is used up")


class Recording(Texts):
    """Texts that remember every message id asked for, to check it against the catalogue."""

    def __init__(self, locale: str):
        super().__init__(locale)
        self.asked: set[str] = set()

    def gettext(self, message: str, **values: object) -> str:
        self.asked.add(message)
        return super().gettext(message, **values)

    def ngettext(self, singular: str, plural: str, n: int, **values: object) -> str:
        self.asked.add(singular)
        return super().ngettext(singular, plural, n, **values)


def translated_in_nl(message: str) -> bool:
    catalogue = translations("nl")._catalog
    found = catalogue.get(message) or catalogue.get((message, 0))
    return bool(found) and found != message


# --- instances that produce each code --------------------------------------------------------


def one_provider_place():
    """taken_to_place_more: the long waiter and a newcomer share Provider X's one place in M1;
    placing the newcomer there and a third client in the long waiter's only unit houses two
    instead of one."""
    return instance(
        [
            client("old", ready_since="2024-01-01", support_provider_id="sp1", max_rent=650),
            client("new", support_provider_id="sp1"),
            client("other", ready_since="2025-06-01", max_rent=650),
        ],
        [unit("u1", rent=600), unit("u2", rent=700)],
        support_providers=[
            {
                "id": "sp1",
                "name": "Provider X",
                "capacity": [{"municipality_id": "m1", "places": 1}],
            }
        ],
    )


def full_building_and_municipality():
    """blocked_together, and mix_cap and municipality_quota that open nothing alone."""
    return instance(
        [client("old", ready_since="2024-01-01"), client("new")],
        [unit("u1"), unit("u2")],
        complexes=[complex_("cx1", units_total=10, vulnerable_residents=2, name="De Horn")],
        municipalities=[municipality("m1", quota=1, name="Hoorn")],
    )


def new_rules_at_their_limit():
    """group_share, staircase, neighbourhood_quota (each alone), closed_before_run and
    cannot_be_placed (a building at its cap from the start), corporation_quota,
    taken_by_pinned, no_eligible_unit."""
    complexes = [
        complex_("cx1", name="Groepshuis", max_vulnerable_share=1.0,
                 group_max_share={"jeugd": 0.1}, group_residents={"jeugd": 0}),
        complex_("cx2", name="Trappenhuis", max_vulnerable_share=1.0,
                 max_vulnerable_per_staircase=1, staircase_vulnerable_residents={"A": 0}),
        complex_("cx3", name="Wijkhuis", max_vulnerable_share=1.0, neighbourhood_id="nb1"),
        complex_("cx4", name="Vol gebouw", units_total=10, vulnerable_residents=5),
        complex_("cx5", name="Corporatiehuis", max_vulnerable_share=1.0),
    ]  # fmt: skip
    units = [
        unit("g1", "cx1"), unit("g2", "cx1"),  # jeugd: floor(0.1 × 100) = 10 ... of 1 below
        unit("s1", "cx2", staircase_id="A"), unit("s2", "cx2", staircase_id="A"),
        unit("n1", "cx3"), unit("n2", "cx3"),
        unit("v1", "cx4"), unit("v2", "cx4", rent=900),
        unit("k1", "cx5", corporation_id="k2"), unit("k2", "cx5", corporation_id="k2"),
        unit("p1", "cx5", rent=950),
    ]  # fmt: skip
    complexes[0]["units_total"] = 10  # share 0.1 of 10: one jeugd household
    clients = [
        # rule 12: one jeugd place in Groepshuis
        client("j-old", "2024-01-01", target_group="jeugd", max_rent=650),
        client("j-new", "2026-01-01", target_group="jeugd", max_rent=650),
        # the rest are kept to one building each by their rent and household
        client("s-old", "2024-01-01", household_size=4),
        client("s-new", "2026-01-01", household_size=4),
        client("n-old", "2024-01-01", household_size=5),
        client("n-new", "2026-01-01", household_size=5),
        client("v-only", "2024-01-01", household_size=6, max_rent=850),  # v1 only: closed
        client("v-some", "2024-01-01", household_size=6, max_rent=1000),  # v1, v2 closed, x1
        client("x-holder", "2023-01-01", household_size=6, max_rent=1000),  # takes x1
        client("k-old", "2024-01-01", household_size=7),
        client("k-new", "2026-01-01", household_size=7),
        client("pinned", "2026-01-01", household_size=8),
        client("pin-loser", "2024-01-01", household_size=8),
        client("nothing", "2024-01-01", max_rent=100),
    ]
    fits = {
        "g": (1, 1), "s": (4, 4), "n": (5, 5), "v": (6, 6), "k": (7, 7), "p": (8, 8),
    }  # fmt: skip
    for u in units:
        lo, hi = fits[u["id"][0]]
        u["min_occupants"], u["max_occupants"] = lo, hi
    units.append(unit("x1", "cx5", rent=980, min_occupants=6, max_occupants=6))  # v-some's other
    return instance(
        clients,
        units,
        complexes=complexes,
        corporations=[
            {"id": "k1", "name": "K1"},
            {"id": "k2", "name": "Woonstichting", "quota": 1},
        ],
        neighbourhoods=[{"id": "nb1", "municipality_id": "m1", "name": "Centrum", "quota": 1}],
        pinned=[{"client_id": "pinned", "unit_id": "p1"}],
    )


def a_tie():
    """equally_good: two clients who waited equally long, one unit."""
    return instance([client("a"), client("b")], [unit("u1")])


def CASES():
    """(name, instance, proposal) for each instance; not_chosen from a solution the search left
    short (a client dropped from an optimal one, as a search stopped at its time limit may)."""
    for name, build in (
        ("provider", one_provider_place),
        ("together", full_building_and_municipality),
        ("new rules", new_rules_at_their_limit),
        ("tie", a_tie),
    ):
        inst = build()
        yield name, inst, propose(inst)
    inst = instance([client("a"), client("b", "2026-02-01")], [unit("u1"), unit("u2")])
    solution = solve(inst)
    short = dataclasses.replace(solution, chosen=solution.chosen[:1], proven=False)
    yield "stopped early", inst, make_proposal(inst, short)
    demo = read_instance(DEMO)
    yield "demo", demo, propose(demo)


@pytest.fixture(scope="module")
def solved():
    return [
        (name, json.loads(inst.model_dump_json()), json.loads(p.model_dump_json()))
        for name, inst, p in CASES()
    ]


def test_the_instances_produce_every_code_the_core_knows(solved):
    emitted = {r["code"] for _, _, p in solved for u in p["unplaced"] for r in u["reasons"]}
    assert emitted == core_codes()


def test_every_reason_in_dutch_is_from_the_catalogue_and_never_the_cores_english(solved):
    for name, inst, p in solved:
        nl, en = Recording("nl"), Recording("en")
        dutch, english = Explainer(nl, inst, p), Explainer(en, inst, p)
        for u in p["unplaced"]:
            for r in u["reasons"]:
                said = dutch.reason(r, u)
                where = (name, u["client_id"], r["code"], said)
                assert said != r["message"] and r["message"] not in said, where
                assert not ENGLISH.search(said), where
                # a limit that opens nothing alone states the units it holds back with others
                stated = str(r["count"] or r.get("together") or 0)
                assert "%(" not in said and stated in said, where
                assert not re.search(r"\b0 (passende )?woning", said), where
                in_english = english.reason(r, u)
                assert in_english != said and "%(" not in in_english, where
                assert stated in in_english and not ENGLISH_CORE.search(in_english), where
        for a in p["assignments"]:
            said = dutch.line(a)
            assert not ENGLISH.search(said) and "passende woning" in said, (name, said)
        untranslated = sorted(m for m in nl.asked if not translated_in_nl(m))
        assert not untranslated, (name, untranslated)


def test_the_english_sentences_name_the_groups_and_state_the_counts(solved):
    by_case = {name: (inst, p) for name, inst, p in solved}
    inst, p = by_case["provider"]
    explain = Explainer(Texts("en"), inst, p)
    (u,) = p["unplaced"]
    said = {r["code"]: explain.reason(r, u) for r in u["reasons"]}
    assert said["taken_to_place_more"] == (
        "1 eligible dwelling went to a client who waited less but had fewer options, so that "
        "more people could be housed."
    )
    inst, p = by_case["new rules"]
    explain = Explainer(Texts("en"), inst, p)
    texts = {
        (u["client_id"], r["code"]): explain.reason(r, u)
        for u in p["unplaced"]
        for r in u["reasons"]
    }
    assert texts[("j-new", "group_share")].startswith(
        "The share of target group jeugd in Groepshuis is full (1 of 1 place taken in this run)."
        " Raising this limit alone would open 1 eligible dwelling."
    )
    assert texts[("s-new", "staircase")].startswith("Staircase A of Trappenhuis is full")
    assert texts[("n-new", "neighbourhood_quota")].startswith(
        "The neighbourhood quota of Centrum is full"
    )
    assert texts[("k-new", "corporation_quota")].startswith(
        "The quota of Woonstichting is full (1 of 1 placement)."
    )
    assert texts[("v-only", "cannot_be_placed")] == (
        "Cannot be placed in this run: its 1 eligible dwelling has no room from the start; "
        "already full: the Magic Mix cap of Vol gebouw."
    )
    assert texts[("v-some", "closed_before_run")] == (
        "2 eligible dwellings have no room from the start of this run; already full: the Magic "
        "Mix cap of Vol gebouw."
    )
    assert texts[("nothing", "no_eligible_unit")].startswith("No eligible dwelling among the 12")
    inst, p = by_case["tie"]
    (u,) = p["unplaced"]
    holder = p["assignments"][0]["client_id"]
    said = Explainer(Texts("en"), inst, p).reason(u["reasons"][0], u)
    assert f"instead of {holder} (dwelling u1): same waiting time" in said


def test_a_limit_that_opens_nothing_alone_says_so_in_words(solved):
    inst, p = next((inst, p) for name, inst, p in solved if name == "together")
    (u,) = p["unplaced"]
    nl, en = Explainer(Texts("nl"), inst, p), Explainer(Texts("en"), inst, p)
    said = {r["code"]: (nl.reason(r, u), en.reason(r, u)) for r in u["reasons"]}
    assert said["mix_cap"] == (
        "Het Magic Mix-maximum van De Horn is vol (3 van hoogstens 3 kwetsbare huishoudens). "
        "Alleen deze limiet verhogen maakt geen woning vrij: de 1 passende woning die ze "
        "tegenhoudt, wordt ook door een andere volle limiet tegengehouden.",
        "The Magic Mix cap of De Horn is full (3 of at most 3 vulnerable households). Raising "
        "this limit alone opens no dwelling: the 1 eligible dwelling it holds back is also held "
        "back by another full limit.",
    )
    assert said["municipality_quota"][0].startswith(
        "Het contingent van de gemeente Hoorn is vol (1 van 1 plaatsing). Alleen deze limiet "
        "verhogen maakt geen woning vrij"
    )
    assert said["blocked_together"][0] == (
        "1 passende woning wordt door meerdere volle limieten tegelijk tegengehouden: één "
        "daarvan verhogen maakt haar niet vrij."
    )
    for dutch, _ in said.values():
        assert not re.search(r"\b0 (passende )?woning", dutch), dutch


def test_every_code_the_core_registry_knows_has_a_sentence():
    codes = core_codes()
    assert set(REASON_CODES) <= codes
    assert {r.groups.code for r in rules.group_limits()} <= codes
    assert not [c for c in codes if not Explainer.knows(c)]
    # the eligibility rules' labels and every rule's name are in the catalogue too
    assert set(RULE_LABELS) == {r.label for r in rules.eligibility()}
    assert {r.name for r in rules.all_rules()} <= set(RULE_NAMES)
    assert all(translated_in_nl(m) for m in [*RULE_LABELS, *RULE_NAMES])


def test_a_new_rules_code_is_noticed_and_still_said_in_the_pages_language():
    with rules.registered(ONE_PER_STREET):
        assert "street_cap" in core_codes() and not Explainer.knows("street_cap")
        inst = instance(
            [client("old", ready_since="2024-01-01"), client("new")],
            [unit("a-1"), unit("a-2")],
        )
        p = json.loads(propose(inst).model_dump_json())
        raw = json.loads(inst.model_dump_json())
    (u,) = p["unplaced"]
    (r,) = [r for r in u["reasons"] if r["code"] == "street_cap"]
    with rules.registered(ONE_PER_STREET):
        said = Explainer(Texts("nl"), raw, p).reason(r, u)
    assert said.startswith("De limiet van regel 91 (one per street) voor a is vol (1 van 1 plaats")
    assert "Alleen deze limiet verhogen maakt 1 passende woning vrij." in said


def test_an_alternative_a_full_limit_blocks_is_said_in_words():
    inst = new_rules_at_their_limit()
    _, found = alternatives(inst, "v-only", k=3)
    (blocked,) = [a for a in found if a.blocked_by]
    # the core says which limit, how full, in fields: the pages never read its English words
    (broken,) = blocked.broken_rules
    assert (broken.rule, broken.limit, broken.placements, broken.room) == (
        10,
        LimitRef(code="mix_cap", group="cx4"),
        1,
        0,
    )
    assert blocked.blocked_by == (
        "placing the client here would break rule 10 (Magic Mix cap): "
        "complex cx4: 1 placements, limit 0"
    )  # the English message stays, for the CLI
    reworded = dataclasses.replace(blocked, blocked_by="another wording of the same")
    raw = json.loads(inst.model_dump_json())
    for alternative in (blocked, reworded):
        assert Explainer(Texts("nl"), raw).blocked(alternative) == (
            "De cliënt hier plaatsen breekt regel 10 (maximum van Magic Mix): het Magic "
            "Mix-maximum van Vol gebouw zou in deze ronde 1 plaatsing krijgen, met ruimte voor 0."
        )
        assert Explainer(Texts("en"), raw).blocked(alternative) == (
            "Placing the client here would break rule 10 (Magic Mix cap): the Magic Mix cap of "
            "Vol gebouw would take 1 placement in this run, with room for 0."
        )


# --- the page --------------------------------------------------------------------------------


def reasons_on_page(text: str) -> list[str]:
    table = text.split('id="unplaced"', 1)[1]
    return [
        html.unescape(re.sub(r"<[^>]+>", "", li)).strip()
        for li in re.findall(r"<li>(.*?)</li>", table.split("</table>", 1)[0], re.S)
    ]


def test_the_proposal_page_says_every_reason_in_the_chosen_language(client, keys):
    token = sign_in(client, keys.coordinator)
    answer = client.post("/voorstellen", data={"csrf_token": token}, follow_redirects=False)
    run_id = int(answer.headers["location"].rsplit("/", 1)[1])
    assert wait_for_run(client, run_id, keys.coordinator)["status"] == "done"
    proposal = client.get(f"/runs/{run_id}/proposal", headers=keys.coordinator).json()
    messages = [r["message"] for u in proposal["unplaced"] for r in u["reasons"]]
    codes = {r["code"] for u in proposal["unplaced"] for r in u["reasons"]}
    assert {"cannot_be_placed", "blocked_together", "neighbourhood_quota", "support_places",
            "staircase", "mix_cap", "municipality_quota"} <= codes  # fmt: skip
    pages = {}
    for lang in ("nl", "en"):
        client.cookies.set("lang", lang)
        page = client.get(f"/voorstellen/{run_id}")
        assert page.status_code == 200
        pages[lang] = reasons_on_page(page.text)
        assert len(pages[lang]) == len(messages)
        shown = html.unescape(page.text)
        assert not [m for m in messages if m in shown], lang
    for dutch in pages["nl"]:
        # names from the demo's data are English; leave them out before looking for English
        words = re.sub(r"(Support provider|Corporation|neighbourhood|complex) ?\w*", "", dutch)
        assert not ENGLISH.search(words), dutch
    assert any("Alleen deze limiet verhogen maakt geen woning vrij" in d for d in pages["nl"])
    # the summaries name every other limit (rules 12-15) in words, with its room and use
    client.cookies.set("lang", "nl")
    page = html.unescape(client.get(f"/voorstellen/{run_id}").text)
    table = page.split("<caption>Overige limieten na dit voorstel</caption>", 1)[1]
    named = re.findall(r'<th scope="row">([^<]+)</th>', table.split("</table>", 1)[0])
    assert len(named) == len(proposal["summaries"]["limits"])
    assert "Het wijkcontingent van Hoorn, wijk 1" in named
    assert "De begeleiding door Zorgaanbieder 1 in Hoorn" in named
    assert not [n for n in named if "/" in n]  # no raw group labels
    # WF-C074 has no room anywhere from the start: each alternative says which limit, in Dutch
    client.cookies.set("lang", "nl")
    page = client.get(f"/voorstellen/{run_id}").text
    link = re.search(r'class="id">WF-C074</th>.*?hx-get="([^"]+)"', page, re.S)[1]
    shown = html.unescape(client.get(html.unescape(link)).text)
    assert "De cliënt hier plaatsen breekt regel 10 (maximum van Magic Mix)" in shown
    assert "would break" not in shown and "placements, limit" not in shown
    assert any("Raising this limit alone opens no dwelling" in e for e in pages["en"])
