"""The web app in a real browser: Debian's chromium driven by Playwright, against a real
``citewise serve`` on a free loopback port, with the sample corpus ingested (hr/ is HR-only),
the real smallest answer model (Qwen2.5-0.5B) and API keys made with ``citewise keys create``.

Locally the tests skip when ``/usr/bin/chromium`` is missing; with
``CITEWISE_REQUIRE_SERVICES=1`` (CI) they fail instead. ``playwright install`` is never
needed: Playwright launches the system chromium through ``executable_path``.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect

from tests.conftest import REPO, SAMPLE_ACL, SAMPLE_CORPUS, missing_service
from tests.live_server import citewise_serve, free_port

CHROMIUM = Path(os.environ.get("CITEWISE_CHROMIUM", "/usr/bin/chromium"))
SCREENSHOTS = REPO / "docs" / "screenshots"
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 360, "height": 780}
READY_TIMEOUT_S = 300


@dataclass(frozen=True)
class Site:
    """The running app: its URL, its data directory and the API key of each test user."""

    url: str
    data_dir: Path
    corpus: Path
    env: dict[str, str]
    keys: dict[str, str]

    def cli(self, *args: str, timeout: float = 600) -> subprocess.CompletedProcess[str]:
        """Run ``citewise`` against the site's data directory."""
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def api(self, user: str) -> httpx.Client:
        """An HTTP client for the JSON API with ``user``'s key as Bearer token."""
        return httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {self.keys[user]}"}, timeout=60
        )


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright launches Debian's chromium, headless (never a downloaded browser)."""
    if not CHROMIUM.is_file():
        missing_service(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "headless": True}


@pytest.fixture(scope="session")
def site(tmp_path_factory: pytest.TempPathFactory, small_gguf: Path) -> Iterator[Site]:
    """``citewise serve`` over the ingested sample corpus, with keys for an employee (eve), an
    HR user (hana) and an admin (ada)."""
    if not CHROMIUM.is_file():
        missing_service(f"chromium not found at {CHROMIUM} (apt-get install chromium)")
    root = tmp_path_factory.mktemp("web")
    corpus = root / "corpus"
    shutil.copytree(SAMPLE_CORPUS, corpus)
    port = free_port()
    env = {
        **os.environ,
        "CITEWISE_DATA_DIR": str(root / "data"),
        "CITEWISE_LLM__MODEL": str(small_gguf),
    }
    for name in ("CITEWISE_CONFIG", "CITEWISE_REGISTRY__URL", "CITEWISE_API__AUTH_REQUIRED"):
        env.pop(name, None)
    site = Site(f"http://127.0.0.1:{port}", root / "data", corpus, env, {})
    ingested = site.cli("ingest", str(corpus), "--acl", str(SAMPLE_ACL))
    assert ingested.returncode == 0, ingested.stderr
    for user, groups in (("eve", ""), ("hana", "hr"), ("ada", "admins")):
        args = ["keys", "create", "--user", user, "--json"]
        created = site.cli(*args, *(["--groups", groups] if groups else []))
        assert created.returncode == 0, created.stderr
        site.keys[user] = json.loads(created.stdout)["token"]
    with citewise_serve(env, port=port, log=root / "serve.log", timeout_s=READY_TIMEOUT_S):
        yield site


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    """Desktop-sized pages, English."""
    return {**browser_context_args, "viewport": DESKTOP, "locale": "en-US"}


def sign_in(page: Page, site: Site, user: str) -> None:
    """Sign in through the login page with ``user``'s API key."""
    page.goto(f"{site.url}/login")
    page.get_by_label("API key").fill(site.keys[user])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/")
    expect(page.locator(".who .user")).to_have_text(user)


@pytest.fixture
def user_page(browser: Browser, site: Site) -> Iterator[Any]:
    """``open(user)``: a fresh browser context signed in as ``user``; its page."""
    contexts: list[BrowserContext] = []

    def open_as(user: str, **context_args: Any) -> Page:
        context = browser.new_context(viewport=DESKTOP, locale="en-US", **context_args)
        contexts.append(context)
        page = context.new_page()
        page.set_default_timeout(30_000)
        sign_in(page, site, user)
        return page

    yield open_as
    for context in contexts:
        context.close()


def screenshot(page: Page, name: str) -> None:
    """Save a screenshot of the page under docs/screenshots/ (shown in the README)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=False)


def serious_violations(page: Page) -> list[str]:
    """axe-core's serious and critical accessibility violations on the page, one line each."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at "
        + ", ".join(str(n["target"]) for n in v["nodes"][:3])
        for v in results.response["violations"]
        if v["impact"] in ("serious", "critical")
    ]
