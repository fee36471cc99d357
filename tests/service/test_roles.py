"""Every endpoint with every role: allowed or forbidden, as the issue and DOMAIN.md's Privacy
section say. The table below is the specification; the test also fails when a route is missing
from it, so a new endpoint cannot slip in without a decision about who may call it."""

from __future__ import annotations

import pytest

C, K, P, A = "coordinator", "corporation", "planner", "admin"
EVERYONE = {C, K, P, A}

ALLOWED: dict[tuple[str, str], set[str]] = {
    ("GET", "/regions"): EVERYONE,
    ("POST", "/regions"): set(),  # an installation admin only (test_regions.py)
    ("GET", "/policy"): {C, P, A},
    ("PUT", "/policy"): {A},
    ("GET", "/municipalities"): {C, P, A},
    ("POST", "/municipalities"): {A},
    ("GET", "/municipalities/{municipality_id}"): {C, P, A},
    ("PUT", "/municipalities/{municipality_id}/quotas/{year}"): {C, A},
    ("GET", "/corporations"): EVERYONE,
    ("POST", "/corporations"): {A},
    ("GET", "/complexes"): EVERYONE,
    ("POST", "/complexes"): {A},
    ("GET", "/complexes/{complex_id}"): EVERYONE,
    ("PATCH", "/complexes/{complex_id}"): {C, A},
    ("GET", "/neighbourhoods"): EVERYONE,
    ("POST", "/neighbourhoods"): {A},
    # a provider's places are region set-up; which client has which provider is not shown here
    ("GET", "/support-providers"): {C, P, A},
    ("PUT", "/support-providers/{provider_id}"): {C, A},
    ("POST", "/vacancies"): {C, K},
    ("POST", "/vacancies/upload"): {C, K},
    ("GET", "/vacancies"): {C, K},
    ("GET", "/vacancies/{vacancy_id}"): {C, K},
    ("POST", "/vacancies/{vacancy_id}/withdraw"): {C, K},
    ("POST", "/clients"): {C},
    ("GET", "/clients"): {C},
    ("GET", "/clients/{client_id}"): {C},
    ("PATCH", "/clients/{client_id}"): {C},
    ("POST", "/clients/{client_id}/withdraw"): {C},
    ("GET", "/clients/{client_id}/history"): {C},
    ("POST", "/clients/{client_id}/erase"): {C},
    ("POST", "/runs"): {C},
    ("GET", "/runs"): {C},
    ("GET", "/runs/{run_id}"): {C},
    ("GET", "/runs/{run_id}/proposal"): {C},
    ("GET", "/runs/{run_id}/input"): {C},
    ("POST", "/runs/{run_id}/cancel"): {C, P},
    ("POST", "/scenarios"): {C, P},
    ("GET", "/scenarios"): {C, P},
    ("GET", "/scenarios/{run_id}"): {C, P},
    ("POST", "/scenario-runs"): {C, P, A},
    ("GET", "/scenario-runs"): {C, P, A},
    ("GET", "/scenario-runs/{run_id}"): {C, P, A},
    ("GET", "/scenario-runs/{run_id}/kpis"): {C, P, A},
    ("GET", "/scenario-runs/{run_id}/report"): {C, P, A},
    ("GET", "/scenario-runs/{run_id}/plots/{name}.png"): {C, P, A},
    ("POST", "/scenario-runs/{run_id}/cancel"): {C, P, A},
    ("POST", "/runs/{run_id}/offers"): {C},
    ("POST", "/offers"): {C},
    ("GET", "/offers"): {C},
    ("GET", "/offers/{offer_id}"): {C},
    ("POST", "/offers/{offer_id}/accept"): {C},
    ("POST", "/offers/{offer_id}/refuse"): {C},
    ("POST", "/offers/{offer_id}/withdraw"): {C},
    ("POST", "/offers/{offer_id}/let"): {C},
    ("GET", "/corporation/offers"): {C, K},
    ("GET", "/corporation/offers/{offer_id}"): {C, K},
    ("POST", "/corporation/offers/{offer_id}/let"): {C, K},
    ("GET", "/audit"): {C, A},
    ("GET", "/aggregates"): {C, P},
    ("GET", "/acceptance-model"): {C, P},
    ("GET", "/acceptance-model/clients/{client_id}"): {C},
    ("POST", "/api-keys"): {A},
    ("GET", "/api-keys"): {A},
    ("DELETE", "/api-keys/{key_id}"): {A},
}
PUBLIC = {("GET", "/health")}
# ids that exist in no table: an allowed role then gets 404 or 422, never 401/403
DUMMY = {
    "municipality_id": "nowhere",
    "year": "2026",
    "complex_id": "nothing",
    "vacancy_id": "none",
    "client_id": "nobody",
    "run_id": "999999",
    "offer_id": "999999",
    "key_id": "999999",
    "name": "backlog",
    "provider_id": "nobody",
}


def _routes(client) -> list[tuple[str, str]]:
    """Every operation of the OpenAPI document (which is every route of the API)."""
    paths = client.app.openapi()["paths"]
    return sorted((method.upper(), path) for path, ops in paths.items() for method in ops)


def test_the_table_covers_every_route(client):
    assert set(_routes(client)) == set(ALLOWED) | PUBLIC


def test_every_endpoint_with_every_role(client, keys):
    for method, path in _routes(client):
        url = path.format(**DUMMY)
        kwargs = {"json": {}} if method in ("POST", "PUT", "PATCH") else {}
        if path == "/vacancies":
            kwargs = {"json": []} if method == "POST" else {}
        anonymous = client.request(method, url, **kwargs)
        if (method, path) in PUBLIC:
            assert anonymous.status_code == 200
            continue
        assert anonymous.status_code == 401, (method, path)
        for role in (C, K, P, A):
            response = client.request(method, url, headers=keys.of(role), **kwargs)
            allowed = role in ALLOWED[(method, path)]
            if allowed:
                assert response.status_code not in (401, 403, 500), (
                    role,
                    method,
                    path,
                    response.text,
                )
            else:
                assert response.status_code == 403, (role, method, path, response.text)
                assert response.json()["detail"]


@pytest.fixture
def offers_on_two_corporations(client, keys):
    """An open offer on a corp-a unit and one on a corp-b unit."""
    vacancies = client.get("/vacancies?status=open", headers=keys.coordinator).json()
    ready = client.get("/clients?status=ready", headers=keys.coordinator).json()
    made = {}
    for corporation in ("corp-a", "corp-b"):
        for unit in (v for v in vacancies if v["corporation_id"] == corporation):
            for person in ready:
                r = client.post(
                    "/offers",
                    json={"client_id": person["id"], "unit_id": unit["id"]},
                    headers=keys.coordinator,
                )
                if r.status_code == 201:
                    made[corporation] = r.json()
                    ready.remove(person)
                    break
            if corporation in made:
                break
    assert set(made) == {"corp-a", "corp-b"}
    return made


def test_a_corporation_cannot_touch_another_corporations_vacancies_or_offers(
    client, keys, offers_on_two_corporations
):
    corp_a = keys.corporation
    theirs = offers_on_two_corporations["corp-b"]
    ours = offers_on_two_corporations["corp-a"]
    # vacancies
    listed = client.get("/vacancies", headers=corp_a).json()
    assert listed and {v["corporation_id"] for v in listed} == {"corp-a"}
    # another corporation's ids are, to a corporation, ids that do not exist
    for unit_id in (theirs["unit_id"], "NO-SUCH-UNIT"):
        r = client.get(f"/vacancies/{unit_id}", headers=corp_a)
        assert (
            r.status_code == 404
            and r.json()["detail"] == f"There is no vacancy with id {unit_id!r}."
        )
        r = client.post(f"/vacancies/{unit_id}/withdraw", json={"reason": "x"}, headers=corp_a)
        assert r.status_code == 404
    foreign = {
        "id": "SNEAKY",
        "complex_id": "cx-hoorn-1",
        "corporation_id": "corp-b",
        "rooms": 1,
        "rent": 500,
        "max_occupants": 1,
    }
    assert client.post("/vacancies", json=[foreign], headers=corp_a).status_code == 403
    # offers
    seen = client.get("/corporation/offers", headers=corp_a).json()
    all_offers = client.get("/offers", headers=keys.coordinator).json()
    units = {
        v["id"]: v["corporation_id"]
        for v in client.get("/vacancies", headers=keys.coordinator).json()
    }
    on_a = [o["id"] for o in all_offers if units[o["unit_id"]] == "corp-a"]
    assert ours["id"] in on_a and theirs["id"] not in on_a
    assert [o["id"] for o in seen] == on_a
    assert client.get(f"/corporation/offers/{theirs['id']}", headers=corp_a).status_code == 404
    r = client.post(f"/corporation/offers/{theirs['id']}/let", headers=corp_a)
    assert r.status_code == 404
    assert client.get(f"/offers/{ours['id']}", headers=corp_a).status_code == 403
    # nothing changed
    assert (
        client.get(f"/vacancies/{theirs['unit_id']}", headers=keys.coordinator).json()["status"]
        == "open"
    )


def test_a_corporation_sees_only_what_privacy_allows(client, keys, offers_on_two_corporations):
    ours = offers_on_two_corporations["corp-a"]
    view = client.get(f"/corporation/offers/{ours['id']}", headers=keys.corporation).json()
    assert set(view) == {
        "id",
        "case_id",
        "unit_id",
        "status",
        "household_size",
        "income_bracket",
        "needs_accessible",
        "support",
        "support_contact",
        "intended_start_date",
        "expires_at",
    }
    assert ours["client_id"] not in str(view)  # a pseudonymous case id, not the client's id
    # the accepted offer is let by the corporation that owns the unit
    client.post(f"/offers/{ours['id']}/accept", headers=keys.coordinator)
    r = client.post(f"/corporation/offers/{ours['id']}/let", headers=keys.corporation)
    assert r.status_code == 200 and r.json()["status"] == "let"


def test_revoked_keys_stop_working(client, keys):
    made = client.post(
        "/api-keys", json={"name": "temp", "role": "planner"}, headers=keys.admin
    ).json()
    temp = {"X-API-Key": made["key"]}
    assert client.get("/aggregates", headers=temp).status_code == 200
    listed = client.get("/api-keys", headers=keys.admin).json()
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    assert client.delete(f"/api-keys/{made['id']}", headers=keys.admin).status_code == 200
    assert client.get("/aggregates", headers=temp).status_code == 401
    r = client.post("/api-keys", json={"name": "x", "role": "corporation"}, headers=keys.admin)
    assert r.status_code == 422


def test_a_corporation_sees_staircases_of_its_units_but_never_a_clients_support_provider(
    client, keys, offers_on_two_corporations
):
    corp_a = keys.corporation
    # the demo's Hoorn, complex 1 (corp-a) spreads over staircases: corp-a sees them
    listed = client.get("/vacancies", headers=corp_a).json()
    assert any(v["staircase_id"] for v in listed if v["complex_id"] == "cx-hoorn-1")
    ours = offers_on_two_corporations["corp-a"]
    coordinator_view = client.get(f"/clients/{ours['client_id']}", headers=keys.coordinator)
    providers = {p["id"] for p in client.get("/support-providers", headers=keys.admin).json()}
    assert providers
    seen = client.get("/corporation/offers", headers=corp_a)
    one = client.get(f"/corporation/offers/{ours['id']}", headers=corp_a)
    for response in (seen, one):
        assert "support_provider" not in response.text
        assert not any(p in response.text for p in providers)
    assert "support_provider_id" in coordinator_view.json()
    assert client.get("/support-providers", headers=corp_a).status_code == 403
    assert client.get(f"/clients/{ours['client_id']}", headers=corp_a).status_code == 403
