"""Browser tests: the real service (``python -m service serve`` on an empty demo database) driven
by Playwright in Debian's Chromium (/usr/bin/chromium; ``.ci/run`` installs it). Skipped only
when that browser is absent. Every page checked is screenshotted at 1366×768 into the test
run's temp dir (printed at the end) and run through axe-core: no serious or critical
violations."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page, sync_playwright

from tests.service.helpers import REPO, free_port

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
LAPTOP = {"width": 1366, "height": 768}
TABLET = {"width": 768, "height": 1024}


class Service:
    """The service on a free port with the demo region, and the demo keys ``make run`` printed."""

    def __init__(self, folder: Path):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = folder / "serve.log"
        self.database_url = f"sqlite:///{folder / 'service.sqlite3'}"
        env = {
            **os.environ,
            "DATABASE_URL": self.database_url,
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "PYTHONPATH": str(REPO),
            "RUN_TIME_LIMIT_SECONDS": "30",
        }
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "service", "serve"],
                cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(self.log.read_text())
            try:
                if httpx.get(self.url + "/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        else:
            self.stop()
            raise AssertionError("the service did not start:\n" + self.log.read_text())
        found = re.findall(r"^  (\w+)(?: \(([\w-]+)\))?\s+(alk_\S+)$", self.log.read_text(), re.M)
        self.keys = {corporation or role: key for role, corporation, key in found}

    def api(self, method: str, path: str, key: str, **kw) -> httpx.Response:
        return httpx.request(method, self.url + path, headers={"X-API-Key": key}, timeout=60, **kw)

    def stop(self) -> None:
        import signal

        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed (.ci/run installs it with apt-get)")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield launched
        launched.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("screenshots")
    print(f"\nscreenshots: {folder}")
    return folder


@pytest.fixture
def service(browser, tmp_path) -> Iterator[Service]:
    running = Service(tmp_path)
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def page(browser, service) -> Iterator[Page]:
    context = browser.new_context(viewport=LAPTOP, accept_downloads=True)
    # nothing outside this service may be asked for: no CDN, no font service
    outside: list[str] = []

    def guard(route):
        if route.request.url.startswith(service.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context.route("**/*", guard)
    opened = context.new_page()
    opened.set_default_timeout(20_000)
    yield opened
    context.close()
    assert not outside, f"requests outside the service: {outside}"


class Checker:
    """Screenshot, axe-core and the no-horizontal-scrolling check of a page."""

    def __init__(self, shots: Path):
        self.shots = shots
        self.axe = Axe()

    def __call__(self, page: Page, name: str) -> None:
        page.wait_for_load_state("networkidle")
        page.screenshot(path=self.shots / f"{name}.png", full_page=True)
        result = self.axe.run(page)
        bad = [
            (v["id"], v["impact"], [n["target"] for n in v["nodes"][:3]])
            for v in result.response["violations"]
            if v["impact"] in ("serious", "critical")
        ]
        assert not bad, f"{name}: {bad}"
        overflow = page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{name}: the page scrolls sideways by {overflow}px"


@pytest.fixture(scope="session")
def check(shots) -> Checker:
    return Checker(shots)


def sign_in(page: Page, service: Service, who: str) -> None:
    page.goto(service.url + "/aanmelden")
    page.fill("#f-key", service.keys[who])
    page.locator("main form button[type=submit]").click()
    page.wait_for_url(re.compile(r".*/(overzicht|corporatie|planner|beheer)$"))
