"""The ask page: sources first, then the streamed draft, then the checked answer whose [n]
opens the highlighted quote of the right document; abstention; feedback that the CLI exports."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, Route, expect

from core.ids import document_id
from tests.browser.conftest import DESKTOP, PHONE, Site, screenshot, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.slow]

ANSWER_TIMEOUT_MS = 240_000

# Records every state the newest answer goes through (waiting, sources, streaming, answered),
# and what was on screen at each step, so the order is checked rather than assumed.
RECORD_STATES = """
window.__states = [];
new MutationObserver((records) => {
  for (const r of records) {
    if (r.attributeName !== 'data-state' || !r.target.classList.contains('answer')) continue;
    window.__states.push({
      state: r.target.dataset.state,
      sources: r.target.querySelectorAll('.source-list li').length,
      draft: (r.target.querySelector('.draft') || {textContent: ''}).textContent.length,
    });
  }
}).observe(document, {attributes: true, subtree: true, attributeFilter: ['data-state']});
"""


def wait_answer(page: Page) -> None:
    last = page.locator(".turn .answer").last
    page.wait_for_function(
        "() => { const a = [...document.querySelectorAll('.turn .answer')].pop();"
        " return a && ['answered', 'abstained', 'error'].includes(a.dataset.state); }",
        timeout=ANSWER_TIMEOUT_MS,
    )
    assert last.get_attribute("data-state") != "error", last.inner_text()


def test_sources_then_stream_then_checked_answer_and_the_quote_opens(
    user_page: Callable[..., Page], site: Site
) -> None:
    page = user_page("eve")
    page.add_init_script(RECORD_STATES)
    page.reload()
    assert serious_violations(page) == []
    page.get_by_label("Your question").fill("How much paid vacation do employees accrue?")
    page.get_by_role("button", name="Ask", exact=True).click()
    wait_answer(page)

    states = page.evaluate("window.__states")
    order = [s["state"] for s in states]
    assert order[0] == "sources", order
    assert states[0]["sources"] > 0 and states[0]["draft"] < len("Draft, being checked") + 2
    assert "streaming" in order and order[-1] == "answered", order
    assert order.index("streaming") < order.index("answered")

    answer = page.locator(".turn .answer").last
    expect(answer.locator(".draft")).to_have_count(0)  # the checked answer replaced the draft
    expect(answer.locator(".answer-text")).to_contain_text("1.75")
    leave_policy = document_id((site.corpus / "policies" / "leave-policy.md").resolve().as_uri())
    cite = answer.locator("a.cite").first
    expect(cite).to_be_visible()
    cite.click()
    panel = page.locator("#source-panel")
    expect(panel).to_be_visible()
    expect(panel).to_have_attribute("data-doc-id", leave_policy)
    expect(panel.locator("mark").first).to_contain_text("1.75")
    answer.locator("details.timings summary").click()
    expect(answer.locator("details.timings")).to_contain_text("First token")
    assert serious_violations(page) == []
    screenshot(page, "chat-desktop")
    page.set_viewport_size(PHONE)
    panel.scroll_into_view_if_needed()
    screenshot(page, "chat-phone")
    assert serious_violations(page) == []
    page.get_by_role("button", name="Close the source").click()  # on a phone it covers the page
    expect(panel).to_be_hidden()
    page.set_viewport_size(DESKTOP)

    give_feedback(answer, site)
    follow_up(page, answer)


def test_an_unanswerable_question_shows_the_abstention_and_the_closest_sources(
    user_page: Callable[..., Page],
) -> None:
    page = user_page("eve")
    page.get_by_label("Your question").fill("What is the parking fee at the Berlin office?")
    page.get_by_role("button", name="Ask", exact=True).click()
    wait_answer(page)
    answer = page.locator(".turn .answer").last
    expect(answer).to_have_attribute("data-state", "abstained")
    expect(answer.locator(".answer-text")).to_have_text(
        "I couldn't find this in the available documents."
    )
    closest = answer.get_by_role("region", name="Closest sources")
    expect(closest.locator("li").first).to_be_visible()
    expect(answer.locator("a.cite")).to_have_count(0)
    # a closest source opens too (its chunk, fetched under the reader's access)
    closest.locator("button").first.click()
    expect(page.locator("#source-panel .cited")).not_to_be_empty()
    assert serious_violations(page) == []


def give_feedback(answer: Locator, site: Site) -> None:
    """Feedback given in the page is what `citewise feedback export` prints."""
    answer.get_by_role("button", name="👍 Helpful").click()
    answer.get_by_label("Comment (optional)").fill("Clear, and the quote checks out")
    answer.get_by_role("button", name="Send feedback").click()
    expect(answer.get_by_role("status").last).to_contain_text("recorded")
    answer_id = answer.get_attribute("data-answer-id")
    exported = site.cli("feedback", "export")
    assert exported.returncode == 0, exported.stderr
    rows = [json.loads(line) for line in exported.stdout.splitlines()]
    mine = [r for r in rows if r["answer_id"] == answer_id]
    assert len(mine) == 1, rows
    assert mine[0]["rating"] == "up" and mine[0]["user_id"] == "eve"
    assert mine[0]["comment"] == "Clear, and the quote checks out"


def follow_up(page: Page, answer: Locator) -> None:
    """The conversation lives in this tab (it survives a reload), and a follow-up sends it."""
    shown = answer.locator(".answer-text").inner_text().strip()
    page.reload()
    expect(page.locator(".turn .answer").first).to_have_attribute("data-state", "answered")
    sent: list[Any] = []

    def capture(route: Route) -> None:
        sent.append(route.request.post_data_json)
        route.abort()  # what was sent is the point here, not another answer

    page.route("**/v1/ask", capture)
    page.get_by_label("Your question").fill("And how much sick leave?")
    page.get_by_role("button", name="Ask", exact=True).click()
    expect(page.locator("#app-error")).to_be_visible()
    assert sent[0]["question"] == "And how much sick leave?"
    history = sent[0]["history"]
    assert history[0] == {"role": "user", "content": "How much paid vacation do employees accrue?"}
    assert history[1]["role"] == "assistant" and "1.75" in history[1]["content"]
    assert " ".join(history[1]["content"].split()) == " ".join(shown.split())
