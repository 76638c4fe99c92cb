"""Real files of every format through the real parser and chunker (no index, no embedding)."""

from __future__ import annotations

from pathlib import Path

import pytest

from api import composition
from core.models import heading_line
from core.settings import Settings
from ingest.document_parser import DocumentParser, ParsedDocument
from retrieval.tokens import HfTokenCounter
from tests.conftest import SAMPLE_CORPUS

pytestmark = pytest.mark.model


@pytest.fixture(scope="module")
def processor() -> DocumentParser:
    return composition.build_parser(Settings.load())


@pytest.fixture(scope="module")
def tokens() -> HfTokenCounter:
    return HfTokenCounter(composition.embedding_model_path(Settings.load()))


def process(processor: DocumentParser, relative: str) -> ParsedDocument:
    return processor.process(SAMPLE_CORPUS / relative)


def assert_fits_window(doc: ParsedDocument, tokens: HfTokenCounter) -> None:
    for passage in doc.passages:
        embedded = heading_line(doc.title, passage.section_path) + "\n" + passage.text
        assert tokens.count(embedded) + 2 <= 256, passage.text[:80]


@pytest.mark.parametrize(
    ("relative", "file_type", "fact"),
    [
        ("policies/leave-policy.md", "md", "1.75 days"),
        ("policies/expenses.html", "html", "$75 per day"),
        ("policies/security-policy.docx", "docx", "within 1 hour"),
        ("it/it-handbook.pdf", "pdf", "extension 4357"),
        ("benefits/benefits-overview.pptx", "pptx", "wellness stipend"),
        ("benefits/benefits-summary.xlsx", "xlsx", "$1,000"),
        ("announcements/office-move.eml", "eml", "14 Harbor Street"),
        ("README.txt", "txt", "2014"),
    ],
)
def test_each_sample_format_parses_with_full_coverage(
    processor: DocumentParser, tokens: HfTokenCounter, relative: str, file_type: str, fact: str
) -> None:
    doc = process(processor, relative)
    assert doc.file_type == file_type
    assert any(fact in p.text for p in doc.passages)
    # Nothing is cut: every parsed token reaches a passage, and every passage fits the window.
    assert sum(p.token_count for p in doc.passages) >= doc.source_tokens
    assert_fits_window(doc, tokens)


def test_pdf_passages_carry_their_page(processor: DocumentParser) -> None:
    doc = process(processor, "it/it-handbook.pdf")
    pages = {p.pages for p in doc.passages}
    assert {(1,), (2,), (3,), (4,)} <= pages  # one page per passage: multipage sections off
    vpn = next(p for p in doc.passages if "NorthGate" in p.text)
    assert vpn.pages == (2,)


def test_a_pdf_with_a_text_layer_is_read_without_ocr() -> None:
    # With OCR off, only the text layer can produce these passages: a missing PDF backend
    # (unstructured needs pikepdf) once sent every PDF to OCR without a word.
    text_only = composition.build_parser(Settings.load(parsing={"ocr_fallback": False}))
    doc = text_only.process(SAMPLE_CORPUS / "it" / "it-handbook.pdf")
    assert {(1,), (2,), (3,), (4,)} <= {p.pages for p in doc.passages}
    assert any("NorthGate" in p.text for p in doc.passages)


def test_slides_are_pages_and_titles_are_sections(processor: DocumentParser) -> None:
    doc = process(processor, "benefits/benefits-overview.pptx")
    stipend = next(p for p in doc.passages if "wellness stipend of" in p.text)
    assert stipend.pages == (4,)
    assert stipend.section_path == ("Wellness stipend",)


def test_docx_headings_become_section_paths(processor: DocumentParser) -> None:
    doc = process(processor, "policies/security-policy.docx")
    assert doc.title == "Northwind Robotics Information Security Policy"
    mfa = next(p for p in doc.passages if "YubiKey" in p.text)
    assert mfa.section_path[-1] == "Multi-factor authentication"


@pytest.mark.parametrize(
    ("relative", "cell"),
    [
        ("policies/leave-policy.md", "21 days per year"),
        ("policies/expenses.html", "$75 per day"),
        ("benefits/benefits-summary.xlsx", "Cascade HDHP"),
    ],
)
def test_tables_are_kept_as_html(processor: DocumentParser, relative: str, cell: str) -> None:
    doc = process(processor, relative)
    tables = [p for p in doc.passages if p.table_html]
    assert tables and all("Table" in p.element_types for p in tables)
    assert any(cell in (p.table_html or "") and "<tr>" in (p.table_html or "") for p in tables)


def test_email_title_is_its_subject(processor: DocumentParser) -> None:
    doc = process(processor, "announcements/office-move.eml")
    assert doc.title == "Tacoma office moving to 14 Harbor Street"


def test_long_sections_are_split_by_sentence_and_long_tables_by_row(
    processor: DocumentParser, tokens: HfTokenCounter, tmp_path: Path
) -> None:
    sentences = " ".join(
        f"Rule {n}: requests for category {n} are reviewed within {n + 2} business days."
        for n in range(120)
    )
    rows = "\n".join(
        f"| item {n} | {n * 7} dollars | approved by desk {n % 5} |" for n in range(300)
    )
    path = tmp_path / "long.md"
    path.write_text(
        f"# Long policy\n\n## Rules\n\n{sentences}\n\n## Price list\n\n"
        f"| Item | Price | Approver |\n|---|---|---|\n{rows}\n"
    )
    doc = processor.process(path)
    assert_fits_window(doc, tokens)
    rule_passages = [p for p in doc.passages if p.section_path[-1:] == ("Rules",)]
    assert len(rule_passages) > 3
    # Sentence boundaries: every passage but the last ends at the end of a sentence.
    assert all(p.text.rstrip().endswith(".") for p in rule_passages)
    table_passages = [p for p in doc.passages if p.table_html]
    assert len(table_passages) > 3
    for p in table_passages:
        html = p.table_html or ""
        # Whole rows only: every row that opens also closes, with all three cells.
        assert html.count("<tr>") == html.count("</tr>")
        assert html.count("<td>") == 3 * html.count("<tr>") or "<th>" in html
    covered = " ".join(p.text for p in table_passages)
    assert all(f"item {n} " in covered + " " for n in range(300))


@pytest.mark.parametrize("fmt", ["epub", "rtf", "odt", "docx"])
def test_pandoc_generated_formats(processor: DocumentParser, tmp_path: Path, fmt: str) -> None:
    pypandoc = pytest.importorskip("pypandoc")
    source = "# Travel desk\n\nThe travel desk books flights within 2 working days.\n"
    out = tmp_path / f"travel.{fmt}"
    pypandoc.convert_text(source, fmt, format="md", outputfile=str(out))
    doc = processor.process(out)
    assert doc.file_type == fmt
    assert any("2 working days" in p.text for p in doc.passages)


def test_csv_is_a_table(processor: DocumentParser, tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    path.write_text("Team,Extension\nHelp desk,4357\nFacilities,2210\n")
    doc = processor.process(path)
    assert any(p.table_html and "4357" in p.table_html for p in doc.passages)


def test_a_scanned_pdf_falls_back_to_ocr(processor: DocumentParser, tmp_path: Path) -> None:
    import shutil

    if shutil.which("tesseract") is None or shutil.which("pdftoppm") is None:
        pytest.skip("tesseract/poppler not installed (.ci/run installs them)")
    from PIL import Image, ImageDraw, ImageFont

    page = Image.new("RGB", (1700, 800), "white")
    font = ImageFont.load_default(size=48)
    ImageDraw.Draw(page).text(
        (80, 300), "Badge photos are taken every Thursday in room 12.", fill="black", font=font
    )
    scan = tmp_path / "scan.pdf"
    page.save(scan, "PDF", resolution=200)
    doc = processor.process(scan)
    text = " ".join(p.text for p in doc.passages)
    assert "Thursday" in text and doc.passages[0].pages == (1,)


def test_a_pdf_over_pypdfs_safety_limits_is_still_parsed(
    processor: DocumentParser, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Two real SEC 10-Q filings trip pypdf's "maximum array element count" in the corruption
    # pre-check; that is a limit of the checker, not a broken file.
    import pypdf
    from pypdf.errors import LimitReachedError

    def too_big(*_args: object, **_kwargs: object) -> None:
        raise LimitReachedError("Reached maximum array element count.")

    monkeypatch.setattr(pypdf, "PdfReader", too_big)
    doc = process(processor, "it/it-handbook.pdf")
    assert any("NorthGate" in p.text for p in doc.passages)
