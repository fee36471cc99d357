"""`make run` prints a demo key per role only when it has just loaded the demo region into an
empty database, and those keys sign in."""

from __future__ import annotations

import re

import httpx

from tests.service.helpers import Server

KEY = re.compile(r"^  (\w+)(?: \(([\w-]+)\))?\s+(alk_\S+)$", re.M)


def test_demo_keys_only_on_an_empty_demo_database(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.sqlite3'}"
    first = Server(url).start()
    try:
        answer = httpx.get(first.url + "/", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"] == "/aanmelden"
    finally:
        first.stop()
    output = first.output.decode()
    keys = {(corporation or role): key for role, corporation, key in KEY.findall(output)}
    assert set(keys) == {"coordinator", "corp-a", "corp-b", "planner", "admin"}, output
    assert f"The pages: {first.url}/" in output

    second = Server(url).start()
    try:
        # the keys printed the first time work; none are printed again
        me = httpx.get(second.url + "/clients", headers={"X-API-Key": keys["coordinator"]})
        assert me.status_code == 200
    finally:
        second.stop()
    assert not KEY.findall(second.output.decode())


def test_no_demo_keys_without_the_demo(tmp_path):
    server = Server(f"sqlite:///{tmp_path / 'empty.sqlite3'}", SEED_DEMO="false").start()
    server.stop()
    assert not KEY.findall(server.output.decode())
