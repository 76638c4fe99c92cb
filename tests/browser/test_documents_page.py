"""The documents page (admins): a DOCX and a corrupt PDF uploaded (one dropped, one picked),
both jobs watched to the end (done / failed with its reason), the DOCX's readers changed; a
non-admin is refused the page."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import PHONE, Site, screenshot, serious_violations

pytestmark = [pytest.mark.browser, pytest.mark.model, pytest.mark.slow]

JOB_TIMEOUT_MS = 240_000
CORRUPT_PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog broken beyond repair\n"

# Drops files on the drop zone as a user's drag and drop does: a DataTransfer holding them.
DROP = """([zone, name, bytes, type]) => {
  const transfer = new DataTransfer();
  transfer.items.add(new File([new Uint8Array(bytes)], name, { type }));
  for (const kind of ['dragenter', 'dragover', 'drop']) {
    const init = { dataTransfer: transfer, bubbles: true, cancelable: true };
    zone.dispatchEvent(new DragEvent(kind, init));
  }
}"""


def test_admin_uploads_watches_jobs_and_changes_readers(
    user_page: Callable[..., Page], site: Site, tmp_path: Path
) -> None:
    page = user_page("ada")
    page.goto(f"{site.url}/documents")
    expect(page.locator("#documents tr").first).to_be_visible()
    assert serious_violations(page) == []

    docx = tmp_path / "travel-security-guide.docx"
    shutil.copy(site.corpus / "policies" / "security-policy.docx", docx)
    page.get_by_label("Readers: groups").fill("public")
    page.locator("#files").set_input_files(str(docx))
    page.evaluate(
        DROP,
        [
            page.locator("#dropzone").element_handle(),
            "scan.pdf",
            list(CORRUPT_PDF),
            "application/pdf",
        ],
    )

    docx_job = page.locator('#jobs tr:has(td:text-is("travel-security-guide.docx"))')
    pdf_job = page.locator('#jobs tr:has(td:text-is("scan.pdf"))')
    expect(docx_job).to_have_attribute("data-status", "done", timeout=JOB_TIMEOUT_MS)
    expect(pdf_job).to_have_attribute("data-status", "failed", timeout=JOB_TIMEOUT_MS)
    reason = pdf_job.locator(".job-details").inner_text()
    assert reason.strip() and reason.strip() != "failed", reason  # the reason is shown
    expect(docx_job.locator(".job-details")).to_contain_text("chunks")

    row = page.locator("#documents tr", has_text="travel-security-guide").first
    expect(row).to_contain_text("indexed")
    expect(row).to_contain_text("groups: public")
    row.get_by_role("button", name="Edit readers").click()
    page.get_by_label("Groups", exact=True).fill("hr, legal")
    page.get_by_role("button", name="Save readers").click()
    expect(page.locator("#documents-status")).to_contain_text("changed")
    row = page.locator("#documents tr", has_text="travel-security-guide").first
    expect(row.locator(".acl-cell")).to_have_text("groups: hr, legal")
    doc_id = row.get_attribute("data-doc-id")
    with site.api("ada") as api:
        stored = api.get(f"/v1/documents/{doc_id}").json()
    assert sorted(stored["acl"]["groups"]) == ["hr", "legal"]
    with site.api("eve") as api:  # no longer readable by an employee: it does not exist
        assert api.get(f"/v1/documents/{doc_id}").status_code == 404

    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "documents-desktop")
    page.set_viewport_size(PHONE)
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "documents-phone")
    assert serious_violations(page) == []


def test_a_non_admin_is_refused_the_documents_page(
    user_page: Callable[..., Page], site: Site
) -> None:
    page = user_page("hana")
    response = page.goto(f"{site.url}/documents")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Not allowed")).to_be_visible()
    expect(page.locator("main")).to_contain_text("admins")
    expect(page.locator("#upload-form")).to_have_count(0)
    assert serious_violations(page) == []
