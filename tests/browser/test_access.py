"""What each reader may see: an employee never meets the HR-only salary bands on any page
(answer, sources, search results, documents page), an HR user does; the documents page is for
admins only."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page, expect

from core.ids import document_id
from tests.browser.conftest import Site, serious_violations
from tests.browser.test_ask_page import wait_answer

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.slow]

QUESTION = "What is the salary band for an L3 Software Engineer?"
SECRETS = ("128,000", "128000", "salary-bands", "Salary Bands")


def salary_doc(site: Site) -> str:
    return document_id((site.corpus / "hr" / "salary-bands.md").resolve().as_uri())


def search(page: Page, site: Site, query: str) -> None:
    page.goto(f"{site.url}/search")
    page.get_by_label("Search the documents").fill(query)
    page.keyboard.press("Enter")
    expect(page.locator("#search-status")).not_to_have_text("Searching…", timeout=60_000)


def visible_text(page: Page) -> str:
    return page.locator("body").inner_text() + page.content()


def test_an_employee_never_sees_the_salary_bands_and_hr_does(
    user_page: Callable[..., Page], site: Site
) -> None:
    employee = user_page("eve")
    employee.get_by_label("Your question").fill(QUESTION)
    employee.get_by_role("button", name="Ask", exact=True).click()
    wait_answer(employee)
    for source in employee.locator(".source-link").all():  # every source it was given
        source.click()
        expect(employee.locator("#source-panel .cited")).not_to_be_empty()
        assert not any(s in visible_text(employee) for s in SECRETS)
    assert not any(s in visible_text(employee) for s in SECRETS)

    search(employee, site, "salary band L3 Software Engineer")
    assert employee.locator(f'.result-open[data-doc-id="{salary_doc(site)}"]').count() == 0
    assert not any(s in visible_text(employee) for s in SECRETS)

    response = employee.goto(f"{site.url}/documents")
    assert response is not None and response.status == 403
    expect(employee.get_by_role("heading", name="Not allowed")).to_be_visible()
    assert not any(s in visible_text(employee) for s in SECRETS)
    expect(employee.get_by_role("link", name="Documents")).to_have_count(0)
    assert serious_violations(employee) == []
    # the JSON behind the pages answers the same: the document does not exist for eve
    with site.api("eve") as api:
        assert api.get(f"/v1/documents/{salary_doc(site)}/file").status_code == 404
        chunks = site.api("hana").post("/v1/search", json={"query": "salary band L3"}).json()
        hr_chunk = next(r["chunk_id"] for r in chunks["results"] if r["doc_id"] == salary_doc(site))
        assert api.get(f"/v1/chunks/{hr_chunk}").status_code == 404

    hr = user_page("hana")
    search(hr, site, "salary band L3 Software Engineer")
    hit = hr.locator(f'.result-open[data-doc-id="{salary_doc(site)}"]').first
    expect(hit).to_be_visible()
    hit.click()
    expect(hr.locator("#source-panel")).to_have_attribute("data-doc-id", salary_doc(site))
    expect(hr.locator("#source-panel .cited")).to_contain_text("128,000")
    hr.goto(f"{site.url}/")
    hr.get_by_label("Your question").fill(QUESTION)
    hr.get_by_role("button", name="Ask", exact=True).click()
    wait_answer(hr)
    sources = hr.locator(".turn .answer").last.locator(".source-link")
    assert any("Salary" in s.inner_text() for s in sources.all()), sources.all_inner_texts()
