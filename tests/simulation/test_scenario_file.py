"""The scenario file format: the Westfriesland file loads; bad files give clear errors naming
where the problem is."""

from __future__ import annotations

import pytest

from allocator.simulation.scenario import ScenarioError, load_scenario, parse_scenario

from .conftest import WESTFRIESLAND


def _issues(data) -> list[str]:
    with pytest.raises(ScenarioError) as info:
        parse_scenario(data)
    return info.value.issues


def test_westfriesland_has_base_and_three_variants():
    scenario = load_scenario(WESTFRIESLAND)
    assert list(scenario.configs) == ["base", "quota +20%", "mix cap 0.2", "one more corporation"]
    base = scenario.configs["base"]
    assert sum(base.yearly_quotas().values()) == 100
    assert sum(scenario.configs["quota +20%"].yearly_quotas().values()) == 120
    assert scenario.configs["mix cap 0.2"].policy.max_vulnerable_share == 0.2
    more = scenario.configs["one more corporation"]
    assert "corp-f" in {c.id for c in more.region.corporations}
    assert len(more.vacancies.streams) == len(base.vacancies.streams) + 2
    assert scenario.sweep


def test_variant_paths_by_id_and_over_every_row(small_data):
    small_data["variants"] = [
        {"name": "b bigger", "set": {"region.municipalities.b.yearly_quota": 9}},
        {"name": "all streams x2", "scale": {"vacancies.streams.per_week": 2}},
    ]
    scenario = parse_scenario(small_data)
    assert scenario.configs["b bigger"].yearly_quotas()["b"] == 9
    streams = scenario.configs["all streams x2"].vacancies.streams
    assert [s.per_week for s in streams] == [1.6, 1.0, 1.2]


def test_bad_value_names_its_place(small_data):
    small_data["region"]["complexes"][1]["units_total"] = 0
    small_data["offers"]["accept_probability"] = 1.5
    issues = _issues(small_data)
    assert any(i.startswith("region.complexes[1].units_total") for i in issues)
    assert any(i.startswith("offers.accept_probability") for i in issues)


def test_unknown_field_is_refused(small_data):
    small_data["clients"]["per_wek"] = 2
    assert any("clients.per_wek" in i and "Extra inputs" in i for i in _issues(small_data))


def test_unknown_references(small_data):
    small_data["region"]["complexes"][0]["municipality"] = "nowhere"
    small_data["vacancies"]["streams"].append(
        {"municipality": "b", "corporation": "c1", "per_week": 1}
    )
    issues = _issues(small_data)
    assert any(
        "region.complexes.a1.municipality: unknown municipality 'nowhere'" in i for i in issues
    )
    assert any("corporation 'c1' owns no complex in 'b'" in i for i in issues)


def test_missing_quota(small_data):
    del small_data["region"]["yearly_quota"]
    assert any("region.yearly_quota" in i for i in _issues(small_data))


def test_bad_variant_path_and_value(small_data):
    small_data["variants"] = [
        {"name": "typo", "set": {"policy.max_vulnerable_shar": 0.2}},
        {"name": "bad id", "scale": {"region.municipalities.zz.yearly_quota": 2}},
        {"name": "bad share", "set": {"policy.max_vulnerable_share": 2}},
    ]
    issues = _issues(small_data)
    assert any(i.startswith("variants.typo: policy.max_vulnerable_shar") for i in issues)
    assert any("variants.bad id: scale" in i and "no row with id 'zz'" in i for i in issues)
    assert any(i.startswith("variants.bad share: policy.max_vulnerable_share") for i in issues)


def test_duplicate_variant_and_missing_section(small_data):
    small_data["variants"].append({"name": "tight mix"})
    del small_data["vacancies"]
    issues = _issues(small_data)
    assert any("duplicate variant name 'tight mix'" in i for i in issues)
    assert any(i.startswith("vacancies: Field required") for i in issues)


def test_yaml_syntax_error(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nregion: [unclosed\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        load_scenario(path)
    assert "not valid YAML at line" in info.value.issues[0]


def test_not_a_mapping():
    assert "mapping" in _issues([1, 2])[0]
