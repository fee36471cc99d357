"""Schemathesis against the OpenAPI document of the real server: no input gives a server error,
and every response matches the document (status code, content type, schema)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.service.helpers import Server
from tests.service.test_roles import ALLOWED
from tests.service.test_server import make_key

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 8


def _checker(operation, base_url: str, headers: dict[str, str]):
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        derandomize=True,
        database=None,
    )
    def check(case):
        case.call_and_validate(base_url=base_url, headers=headers, checks=CHECKS, timeout=30)

    return check


@pytest.fixture
def api_server(database_url):
    server = Server(database_url).start()
    try:
        yield server
    finally:
        server.stop()


def test_the_openapi_document_holds_for_generated_requests(api_server, database_url):
    keys = {
        role: make_key(database_url, role, "corp-a" if role == "corporation" else None)
        for role in ("coordinator", "admin", "planner", "corporation")
    }
    keys["installation"] = make_key(database_url, "admin", region_id=None)
    schema = schemathesis.openapi.from_url(api_server.url + "/openapi.json")
    failures: dict[str, str] = {}
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1
        roles = ALLOWED.get((operation.method.upper(), operation.path), {"coordinator"})
        # called with a key of a role that may call it, so the request reaches the route
        # (no region role: an installation admin's operation)
        role = "coordinator" if "coordinator" in roles else (sorted(roles) or ["installation"])[0]

        check = _checker(operation, api_server.url, keys[role])
        try:
            check()
        except Exception as exc:  # collect every operation's failure, then report them all
            failures[operation.label] = str(exc)[:2000]
    assert operations >= 40
    assert not failures, "\n\n".join(f"{k}:\n{v}" for k, v in failures.items())
