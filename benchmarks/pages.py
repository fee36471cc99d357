"""Server time per page at the demo region's size (service/web/), against the JSON API call
that serves the same data (the peer, measured in the same run).

Target: the overview and the proposal page 200 ms or less each, excluding the solve itself
(the run is solved before timing starts). Server time is measured around the ASGI app: from the
request entering the app to the last byte of the response leaving it.

    .venv/bin/python benchmarks/pages.py [--repeat 30] [--database-url URL]
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fastapi.testclient import TestClient

from service.audit import SYSTEM
from service.db import get_sessionmaker
from service.main import create_app
from service.routers.keys import create_key
from service.settings import Settings


class Timed:
    """An ASGI wrapper that records the server time of every request."""

    def __init__(self, app):
        self.app = app
        self.last = 0.0

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()

        async def sending(message):
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                self.last = time.perf_counter() - start

        await self.app(scope, receive, sending)


def keys_for(database_url: str) -> dict[str, str]:
    made = {}
    with get_sessionmaker(database_url)() as session:
        for role, corporation in (
            ("coordinator", None),
            ("corporation", "corp-a"),
            ("planner", None),
        ):
            _, made[role] = create_key(session, SYSTEM, f"bench {role}", role, corporation)
        session.commit()
    return made


def sign_in(client: TestClient, key: str) -> None:
    client.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/aanmelden").text)[1]
    client.post("/aanmelden", data={"key": key, "csrf_token": token})


def measure(client: TestClient, timed: Timed, path: str, repeat: int, headers=None) -> list[float]:
    times = []
    for _ in range(repeat + 2):
        answer = client.get(path, headers=headers or {})
        assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
        times.append(timed.last * 1000)
    return times[2:]  # the first two warm caches


REPEAT = 30


def pair(client, timed, key: str, page: str, peer: str) -> tuple[list[float], list[float]]:
    """The page (signed in) and its API peer (with the key), alternating runs of each."""
    return (
        measure(client, timed, page, REPEAT),
        measure(client, timed, peer, REPEAT, {"X-API-Key": key}),
    )


def main() -> None:
    global REPEAT
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    REPEAT = args.repeat
    sys.path.insert(0, str(Path(__file__).parent))
    from run import machine  # the same machine description as the other benchmarks
    from sections import RESULTS, write_section

    folder = tempfile.mkdtemp(prefix="pages-bench-")
    url = args.database_url or f"sqlite:///{Path(folder) / 'bench.sqlite3'}"
    settings = Settings(database_url=url, seed_demo=True)
    app = create_app(settings)
    timed = Timed(app)
    rows = []
    with TestClient(timed) as client:
        keys = keys_for(url)
        api = {"X-API-Key": keys["coordinator"]}
        run = client.post("/runs", headers=api).json()
        while client.get(f"/runs/{run['id']}", headers=api).json()["status"] in (
            "queued",
            "running",
        ):
            time.sleep(0.1)
        proposal = f"/voorstellen/{run['id']}", f"/runs/{run['id']}/proposal"
        sign_in(client, keys["coordinator"])
        # every line still open (a form per line): the proposal page's heaviest state
        rows.append(("proposal", *proposal, *pair(client, timed, keys["coordinator"], *proposal)))
        # then offers from the run, so the offers board shows some
        client.post(f"/runs/{run['id']}/offers", headers=api, json={})
        cases = [
            ("coordinator", "overview", "/overzicht", "/aggregates"),
            ("coordinator", "clients", "/clienten", "/clients"),
            ("coordinator", "vacancies", "/woningen", "/vacancies"),
            ("coordinator", "offers board", "/aanbiedingen", "/offers"),
            ("coordinator", "audit trail", "/logboek", "/audit?limit=300"),
            ("corporation", "corporation offers", "/corporatie", "/corporation/offers"),
            ("planner", "scenarios", "/planner", "/scenario-runs"),
        ]
        for role, name, page, peer in cases:
            sign_in(client, keys[role])
            rows.append((name, page, peer, *pair(client, timed, keys[role], page, peer)))
    load = os.getloadavg()
    lines = [
        "## Page server time (service/web)",
        "",
        "Demo region (Westfriesland: 80 clients, 60 vacancies), "
        f"{settings.database_url.split(':')[0]}, "
        f"{args.repeat} requests each after two warm-ups; server time around the ASGI app, the "
        "solve excluded. Peer: the JSON API call that serves the same data, same run. "
        f"Machine: {', '.join(f'{k} {v}' for k, v in machine().items())}; "
        f"load average during the run {load[0]:.2f} / {load[1]:.2f} / {load[2]:.2f} "
        "(other benchmarks and test suites ran at the same time).",
        "",
        "| page | path | median ms | p95 ms | API peer | peer median ms | page / peer |",
        "| --- | --- | ---: | ---: | --- | ---: | ---: |",
    ]
    for name, page, peer, page_ms, api_ms in rows:
        p95 = sorted(page_ms)[int(0.95 * (len(page_ms) - 1))]
        ratio = statistics.median(page_ms) / statistics.median(api_ms)
        lines.append(
            f"| {name} | `{page}` | {statistics.median(page_ms):.1f} | {p95:.1f} | `{peer}` | "
            f"{statistics.median(api_ms):.1f} | {ratio:.2f} |"
        )
        print(lines[-1])
    target = [(n, p) for n, _, _, p, _ in rows if n in ("overview", "proposal")]
    lines += [
        "",
        "Target: the overview and the proposal page (every line still open) ≤ 200 ms each: "
        + "; ".join(
            f"{n} median {statistics.median(p):.0f} ms, slowest of {len(p)} {max(p):.0f} ms"
            for n, p in target
        )
        + ".",
    ]
    write_section(RESULTS, "pages", lines)
    print(f"written to {RESULTS}")


if __name__ == "__main__":
    main()
