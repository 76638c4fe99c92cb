"""Signing in and out of the web app: a wrong key is refused with a message, sign-out ends the
session (its cookie no longer works), and a forged cross-site POST is refused; every page sends
a Content-Security-Policy without inline scripts."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.conftest import DESKTOP, Site, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.slow]


def test_a_wrong_key_is_refused_with_a_message(browser: Browser, site: Site) -> None:
    page = browser.new_context(viewport=DESKTOP).new_page()
    response = page.goto(f"{site.url}/")  # not signed in: the app sends you to sign in
    assert response is not None and page.url.startswith(f"{site.url}/login")
    assert serious_violations(page) == []
    page.get_by_label("API key").fill("cw_000000000000_not-a-real-key")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{site.url}/login?error=invalid")
    expect(page.get_by_role("alert")).to_contain_text("not valid")
    expect(page.get_by_label("API key")).to_have_attribute("aria-invalid", "true")
    assert serious_violations(page) == []
    assert page.context.cookies() == [] or all(
        c["name"] != "citewise_session" for c in page.context.cookies()
    )
    page.context.close()


def test_sign_out_ends_the_session(user_page: Callable[..., Page], site: Site) -> None:
    page = user_page("eve")
    cookie = next(c for c in page.context.cookies() if c["name"] == "citewise_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{site.url}/login")
    page.goto(f"{site.url}/search")
    assert page.url.startswith(f"{site.url}/login")
    # the old cookie, replayed, is worthless
    replay = page.context.request.get(
        f"{site.url}/web/session", headers={"Cookie": f"citewise_session={cookie['value']}"}
    )
    assert replay.status == 401


class _Forger(BaseHTTPRequestHandler):
    """Another site (another host name) whose page posts to Citewise."""

    target = ""

    def do_GET(self) -> None:
        body = (
            "<!doctype html><title>Win a prize</title>"
            f'<form method="post" action="{self.target}/v1/feedback" enctype="text/plain">'
            '<input name=\'{"answer_id":"forged","rating":"down","comment":"x","pad":"\' '
            "value='\"}'><button>Claim</button></form>"
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def forger(site: Site) -> Iterator[str]:
    handler = type("Forger", (_Forger,), {"target": site.url})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # "localhost" is another site than "127.0.0.1" for the browser
    yield f"http://localhost:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def test_a_forged_cross_site_post_is_refused(
    user_page: Callable[..., Page], site: Site, forger: str
) -> None:
    page = user_page("eve")
    page.goto(forger)
    with page.expect_response(lambda r: r.url.endswith("/v1/feedback")) as posted:
        page.get_by_role("button", name="Claim").click()
    assert posted.value.status in (401, 403)
    # Even with the cookie attached, a request without the page's CSRF token, or from
    # another origin, is refused.
    request = page.context.request
    body = {"answer_id": "forged", "rating": "down"}
    no_token = request.post(f"{site.url}/v1/feedback", data=body)
    assert no_token.status == 403
    token = request.get(f"{site.url}/web/session").json()["csrf_token"]
    foreign = request.post(
        f"{site.url}/v1/feedback",
        data=body,
        headers={"X-CSRF-Token": token, "Origin": "http://localhost:1"},
    )
    assert foreign.status == 403
    exported = site.cli("feedback", "export")
    assert '"forged"' not in exported.stdout


def test_pages_forbid_inline_scripts(user_page: Callable[..., Page], site: Site) -> None:
    page = user_page("ada")
    for path in ("/", "/search", "/documents", "/login"):
        response = page.request.get(f"{site.url}{path}")
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "unsafe-inline" not in policy
        assert "<script>" not in response.text() and "onclick" not in response.text()
