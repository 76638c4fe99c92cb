"""The search page, keyboard first: a file-type filter returns only that type, and opening a
PDF result shows its page (rendered by pdf.js) with the passage highlighted."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from core.ids import document_id
from tests.browser.conftest import PHONE, Site, screenshot, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.slow]


def test_a_file_type_filter_returns_only_that_type_and_a_pdf_opens_at_its_page(
    user_page: Callable[..., Page], site: Site
) -> None:
    page = user_page("eve")
    page.goto(f"{site.url}/search")
    assert serious_violations(page) == []
    page.locator("h1").click()
    page.keyboard.press("/")  # "/" focuses the query box
    expect(page.get_by_label("Search the documents")).to_be_focused()
    page.keyboard.type("laptop replacement equipment")
    page.get_by_label("File type").select_option("pdf")
    page.get_by_label("Search the documents").press("Enter")
    expect(page.locator("#search-status")).to_contain_text("found")

    handbook = document_id((site.corpus / "it" / "it-handbook.pdf").resolve().as_uri())
    results = page.locator(".result-open")
    assert results.count() >= 1
    assert {r.get_attribute("data-doc-id") for r in results.all()} == {handbook}
    for badge in page.locator(".result-open .badge").all_inner_texts():
        assert badge == "PDF"
    # unfiltered, the same query finds other types too (the filter did the narrowing)
    with site.api("eve") as api:
        unfiltered = api.post("/v1/search", json={"query": "laptop replacement equipment"})
    assert {h["doc_id"] for h in unfiltered.json()["results"]} - {handbook}

    page.get_by_label("Search the documents").press("ArrowDown")  # arrows move to the results
    expect(results.first).to_be_focused()
    page.keyboard.press("Enter")  # Enter opens it
    pdf = page.locator("#source-pdf")
    expect(pdf).to_be_visible(timeout=60_000)
    first_page = results.first.locator(".result-where").inner_text().rsplit("p. ", 1)[-1]
    expect(pdf).to_have_attribute("data-page", first_page.split(",")[0].strip())
    canvas_size = page.locator("#source-canvas").evaluate("c => [c.width, c.height]")
    assert min(canvas_size) > 100
    assert int(pdf.get_attribute("data-highlighted") or 0) > 0
    expect(page.locator("#source-text-layer .highlight").first).to_be_visible()
    assert serious_violations(page) == []
    screenshot(page, "search-desktop")

    page.keyboard.press("Escape")  # closes the source, back to the result
    expect(page.locator("#source-panel")).to_be_hidden()
    expect(results.first).to_be_focused()
    page.set_viewport_size(PHONE)
    results.first.click()
    expect(pdf).to_be_visible(timeout=60_000)
    screenshot(page, "search-phone")
    assert serious_violations(page) == []
