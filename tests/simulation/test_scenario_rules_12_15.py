"""The scenario format can set rules 12-15: group shares, staircases, neighbourhoods with yearly
quotas, support providers with yearly places, the share of clients with a provider; variants
change them by path; wrong references name their place."""

from __future__ import annotations

import pytest

from allocator.simulation.scenario import ScenarioError, parse_scenario


def with_rules(data: dict) -> dict:
    cx = data["region"]["complexes"][0]
    cx.update(
        {
            "group_max_share": {"BW": 0.25},
            "group_residents": {"BW": 1},
            "max_vulnerable_per_staircase": 1,
            "staircases": {"p1": 0, "p2": 1},
            "neighbourhood": "n1",
        }
    )
    data["region"]["neighbourhoods"] = [
        {"id": "n1", "municipality": cx["municipality"], "yearly_quota": 3}
    ]
    data["region"]["support_providers"] = [
        {"id": "sp", "name": "SP", "yearly_places": {cx["municipality"]: 4}}
    ]
    data["clients"]["support_share"] = 0.5
    return data


def test_the_format_takes_rules_12_15_and_variants_change_them(small_data):
    data = with_rules(small_data)
    data["variants"] = [
        {"name": "more room", "set": {"region.neighbourhoods.n1.yearly_quota": 6}},
        {"name": "more places", "scale": {"region.support_providers.sp.yearly_places.a": 2}},
    ]
    scenario = parse_scenario(data)
    base = scenario.configs["base"]
    assert base.region.neighbourhoods[0].yearly_quota == 3
    assert base.region.complexes[0].staircases == {"p1": 0, "p2": 1}
    assert base.clients.support_share == 0.5
    assert scenario.configs["more room"].region.neighbourhoods[0].yearly_quota == 6
    places = scenario.configs["more places"].region.support_providers[0].yearly_places
    assert places == {"a": 8}


@pytest.mark.parametrize(
    "change, place",
    [
        (lambda d: d["region"]["neighbourhoods"][0].update(municipality="b"), "neighbourhood"),
        (lambda d: d["region"]["complexes"][0].update(neighbourhood="nx"), "neighbourhood"),
        (lambda d: d["region"]["support_providers"][0].update(yearly_places={"zz": 1}), "zz"),
        (lambda d: d["region"]["complexes"][0].update(group_residents={"MO": 1}), "MO"),
        (lambda d: d["region"]["neighbourhoods"][0].update(yearly_quota=-1), "yearly_quota"),
    ],
)
def test_wrong_rules_12_15_name_their_place(small_data, change, place):
    data = with_rules(small_data)
    change(data)
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    assert any(place in issue for issue in info.value.issues), info.value.issues
