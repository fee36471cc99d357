"""The service under concurrent load: requests per second and p50/p99 latency for a mix of reads
and writes at concurrency 20 and 50, on SQLite and PostgreSQL, with 1 and 2 web processes; and
the time from `POST /runs` to a proposal at region size.

The peer, measured in the same run on the same machine, is the service as it was before issue 8
(`--peer-commit`, default the branch's base), started the same way from a `git archive` copy.

    .venv/bin/python benchmarks/service.py                    # SQLite; PostgreSQL when
    ALLOCATOR_TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python ...

Writes its section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from sqlalchemy import create_engine, make_url, text

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
PORT = 8180


def _database(kind: str, base: str | None, folder: Path) -> str:
    if kind == "sqlite":
        return f"sqlite:///{folder / f'bench-{uuid.uuid4().hex[:6]}.sqlite3'}"
    from service.settings import normalise_database_url

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    engine = create_engine(normalise_database_url(base), isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    engine.dispose()
    url = make_url(normalise_database_url(base)).update_query_dict(
        {"options": f"-csearch_path={schema}"}
    )
    return url.render_as_string(hide_password=False)


def _drop(url: str) -> None:
    if url.startswith("sqlite"):
        return
    options = make_url(url).query.get("options", "")
    schema = options.split("=", 1)[1]
    engine = create_engine(make_url(url).difference_update_query(["options"]))
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


class Service:
    """`python -m service serve` from a source tree (this one, or the peer's copy)."""

    def __init__(self, source: Path, url: str, web: int, workers: int, peer: bool):
        self.url = f"http://127.0.0.1:{PORT}"
        self.env = {
            **os.environ,
            "DATABASE_URL": url,
            "PORT": str(PORT),
            "PYTHONPATH": str(source),
            "RUN_WORKERS": str(workers),
        }
        self.args = [sys.executable, "-m", "service", "serve"]
        if not peer:
            self.args += ["--web-processes", str(web)]
        self.source = source
        self.process: subprocess.Popen | None = None
        # the server's log, when BENCH_SERVER_LOG names a file (to see what went wrong)
        where = os.environ.get("BENCH_SERVER_LOG")
        self.log = open(where, "ab") if where else subprocess.DEVNULL  # noqa: SIM115

    def __enter__(self) -> Service:
        self.process = subprocess.Popen(
            self.args,
            cwd=self.source,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/health", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError("the service did not start")

    def __exit__(self, *_):
        import signal

        os.killpg(self.process.pid, signal.SIGINT)
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


def _key(source: Path, url: str, role: str, corporation: str | None = None) -> dict[str, str]:
    args = [sys.executable, "-m", "service", "create-key", "--role", role]
    if corporation:
        args += ["--corporation", corporation]
    done = subprocess.run(
        args,
        cwd=source,
        env={**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(source)},
        capture_output=True,
        text=True,
        check=True,
    )
    return {"X-API-Key": done.stdout.strip().splitlines()[-1]}


def _mix(
    base: str,
    coordinator,
    corporation,
    n: int,
    concurrency: int,
    timeout: float,
    write_share: float = 0.2,
    reads: tuple[str, ...] = (
        "/vacancies",
        "/clients",
        "/offers",
        "/municipalities",
        "/aggregates",
    ),
):
    """n requests, 80% reads (lists of the region) and 20% writes (a vacancy reported, then
    withdrawn), from ``concurrency`` threads at once."""
    latencies: list[float] = []
    codes: dict[int, int] = {}
    lock = threading.Lock()
    local = threading.local()

    def one(i: int) -> None:
        if not hasattr(local, "http"):
            local.http = httpx.Client(base_url=base, timeout=timeout)
        rng = random.Random(i)
        start = time.perf_counter()
        try:
            if rng.random() >= write_share:
                path = rng.choice(reads)
                headers = coordinator
                r = local.http.get(path, headers=headers)
            else:
                unit = f"B-{uuid.uuid4().hex[:10]}"
                body = [
                    {
                        "id": unit,
                        "complex_id": "cx-hoorn-1",
                        "corporation_id": "corp-a",
                        "rooms": 2,
                        "rent": 600,
                        "max_occupants": 2,
                    }
                ]
                r = local.http.post("/vacancies", json=body, headers=corporation)
                if r.status_code == 201:
                    r = local.http.post(
                        f"/vacancies/{unit}/withdraw", json={"reason": "bench"}, headers=corporation
                    )
            code = r.status_code
        except httpx.TimeoutException:
            code = 0
        except httpx.TransportError:  # the server dropped the connection
            code = -1
        elapsed = time.perf_counter() - start
        with lock:
            latencies.append(elapsed)
            codes[code] = codes.get(code, 0) + 1

    began = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        list(pool.map(one, range(n)))
    wall = time.perf_counter() - began
    latencies.sort()
    return {
        "rps": n / wall,
        "p50": statistics.median(latencies),
        "p99": latencies[min(len(latencies) - 1, int(0.99 * len(latencies)))],
        "codes": codes,
    }


def _run_time(base: str, coordinator) -> float:
    with httpx.Client(base_url=base, timeout=60) as http:
        start = time.perf_counter()
        run = http.post("/runs", headers=coordinator).json()
        while True:
            status = http.get(f"/runs/{run['id']}", headers=coordinator).json()["status"]
            if status not in ("queued", "running"):
                break
            time.sleep(0.02)
        http.get(f"/runs/{run['id']}/proposal", headers=coordinator).raise_for_status()
        return time.perf_counter() - start


def _peer_tree(commit: str, folder: Path) -> Path:
    target = folder / "peer"
    target.mkdir()
    archive = subprocess.run(
        ["git", "archive", commit], cwd=REPO, capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument("--peer-requests", type=int, default=200)
    parser.add_argument("--peer-commit", default="618348c")
    parser.add_argument("--timeout", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    args = parser.parse_args()
    base_pg = os.environ.get("ALLOCATOR_TEST_DATABASE_URL")
    kinds = ["sqlite"] + (["postgresql"] if base_pg else [])
    rows, runs = [], []
    with tempfile.TemporaryDirectory(prefix="bench-service-") as tmp:
        folder = Path(tmp)
        peer = _peer_tree(args.peer_commit, folder)
        for kind in kinds:
            for version, source, webs in (("issue 8", REPO, (1, 2)), ("before", peer, (1,))):
                for web in webs:
                    url = _database(kind, base_pg, folder)
                    try:
                        with Service(source, url, web, 1, peer=version == "before") as service:
                            coordinator = _key(source, url, "coordinator")
                            corporation = _key(source, url, "corporation", "corp-a")
                            for concurrency in (20, 50):
                                load = os.getloadavg()[0]
                                n = args.requests if version == "issue 8" else args.peer_requests
                                result = _mix(
                                    service.url,
                                    coordinator,
                                    corporation,
                                    n,
                                    concurrency,
                                    args.timeout,
                                )
                                rows.append((kind, version, web, concurrency, n, load, result))
                                print(rows[-1], flush=True)
                            # the measurement: 300 GET /vacancies at concurrency 50
                            load = os.getloadavg()[0]
                            result = _mix(
                                service.url,
                                coordinator,
                                corporation,
                                300,
                                50,
                                args.timeout,
                                write_share=0.0,
                                reads=("/vacancies",),
                            )
                            rows.append((kind, version, web, "50 GETs", 300, load, result))
                            print(rows[-1], flush=True)
                            if web == 1:
                                took = [_run_time(service.url, coordinator) for _ in range(3)]
                                runs.append((kind, version, statistics.median(took)))
                                print(runs[-1], flush=True)
                    finally:
                        _drop(url)
    _write(args.out, rows, runs)


def _write(out: Path, rows, runs) -> None:
    from sections import write_section

    lines = [
        "## Service under load (issue 8)",
        "",
        f"- Date: {dt.datetime.now(dt.UTC).isoformat(timespec='seconds')}; "
        f"{os.cpu_count()} CPUs shared with other work (the 1-minute load average at the start "
        "of each measurement is in the table).",
        "- Command: `ALLOCATOR_TEST_DATABASE_URL=... .venv/bin/python benchmarks/service.py`",
        "- Mix: 80% reads (`GET /vacancies`, `/clients`, `/offers`, `/municipalities`, "
        "`/aggregates`, first page), 20% writes (a corporation reports a vacancy, then "
        "withdraws it: two requests, timed together); the Westfriesland demo region; each "
        "configuration a fresh database. *before*: the service at the branch's base commit.",
        "",
        "Rows *50 GETs*: the issue's own measurement, 300 `GET /vacancies` at concurrency 50 "
        "(no writes).",
        "",
        "| database | version | web processes | concurrency | requests | load | req/s | "
        "p50 s | p99 s | answers |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for kind, version, web, concurrency, n, load, r in rows:
        answers = ", ".join(
            f"{ {0: 'timeout', -1: 'connection reset'}.get(c, c) }×{k}"
            for c, k in sorted(r["codes"].items())
        )
        lines.append(
            f"| {kind} | {version} | {web} | {concurrency} | {n} | {load:.2f} | "
            f"{r['rps']:.1f} | {r['p50']:.3f} | {r['p99']:.3f} | {answers} |"
        )
    lines += ["", "Ratios against *before* in the same run (req/s × and p50 ÷, 1 web process):", ""]
    lines += [
        "| database | concurrency | req/s × | p50 before ÷ now |",
        "| --- | ---: | ---: | ---: |",
    ]
    index = {(k, v, w, c): r for k, v, w, c, _, _, r in rows}
    for kind, _, web, concurrency, *_ in rows:
        if web != 1 or (kind, "before", 1, concurrency) not in index:
            continue
        now, then = (
            index[(kind, "issue 8", 1, concurrency)],
            index[(kind, "before", 1, concurrency)],
        )
        line = (
            f"| {kind} | {concurrency} | {now['rps'] / then['rps']:.1f} | "
            f"{then['p50'] / now['p50']:.1f} |"
        )
        if line not in lines:
            lines.append(line)
    lines += [
        "",
        "Time from `POST /runs` to the proposal (demo region: 80 clients, 60 vacancies; median "
        "of 3; one worker; polling every 20 ms):",
        "",
        "| database | version | seconds |",
        "| --- | --- | ---: |",
    ]
    lines += [f"| {k} | {v} | {s:.2f} |" for k, v, s in runs]
    write_section(out, "service", lines)


if __name__ == "__main__":
    main()
