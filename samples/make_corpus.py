"""Generate the binary documents of the Northwind Robotics sample corpus.

The sample corpus in ``samples/corpus/`` is a fictional employee handbook used
by Citewise tests and demos. Markdown, HTML and plain-text documents are
hand-written and committed as they are; this script (re)creates the binary
ones from text held below:

* ``policies/security-policy.docx``   (python-docx)
* ``hr/performance-calibration.docx`` (python-docx, restricted to HR)
* ``it/it-handbook.pdf``              (reportlab)
* ``benefits/benefits-overview.pptx`` (python-pptx)
* ``benefits/benefits-summary.xlsx``  (openpyxl)
* ``announcements/office-move.eml``   (standard library ``email``)

The document text is written in a tiny Markdown-like markup (see
``parse_blocks``). Output is deterministic: document properties use fixed
dates, Office files are re-zipped with fixed timestamps and the PDF is written
in reportlab's invariant mode, so re-running the script gives byte-identical
files.

Usage::

    python samples/make_corpus.py             # generate, then verify
    python samples/make_corpus.py --no-check  # generate only
"""

from __future__ import annotations

import argparse
import re
import sys
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from textwrap import dedent

import docx
import openpyxl
import pptx
from docx.document import Document as DocxDocument
from openpyxl.styles import Font, PatternFill
from pptx.util import Inches, Pt
from pypdf import PdfReader
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import inch
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import Flowable, PageBreak, Paragraph, SimpleDocTemplate, Spacer

CORPUS = Path(__file__).resolve().parent / "corpus"

AUTHOR = "Northwind Robotics People Operations"
FIXED_DATETIME = datetime(2025, 1, 15, 9, 0, 0, tzinfo=UTC)
FIXED_ISO = b"2025-01-15T09:00:00Z"
ZIP_DATE_TIME = (2025, 1, 15, 9, 0, 0)
MIN_PDF_PAGES = 3
_CORE_DATE_RE = re.compile(rb"(<dcterms:(created|modified)\b[^>]*>)[^<]*(</dcterms:\2>)")


# --------------------------------------------------------------------------
# Markup
# --------------------------------------------------------------------------


@dataclass
class Block:
    """One block of document content.

    ``kind`` is one of ``title``, ``h1``, ``h2``, ``p``, ``bullets`` or
    ``table``. Text blocks use ``text``; ``bullets`` uses ``items``; ``table``
    uses ``rows`` (the first row is the header).
    """

    kind: str
    text: str = ""
    items: list[str] = field(default_factory=list)
    rows: list[list[str]] = field(default_factory=list)


def parse_blocks(markup: str) -> list[Block]:
    """Parse the corpus markup into blocks.

    Blocks are separated by blank lines. A block starting with ``= `` is the
    document title, ``# `` a level-1 heading and ``## `` a level-2 heading.
    A block whose lines start with ``- `` is a bulleted list (other lines
    continue the previous item); one whose lines all start with ``|`` is a
    table with ``|``-separated cells. Anything else is a paragraph; its lines
    are joined with spaces.
    """
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", dedent(markup).strip()):
        lines = [line.strip() for line in chunk.splitlines()]
        first = lines[0]
        joined = " ".join(lines)
        if first.startswith("= "):
            blocks.append(Block("title", joined[2:]))
        elif first.startswith("## "):
            blocks.append(Block("h2", joined[3:]))
        elif first.startswith("# "):
            blocks.append(Block("h1", joined[2:]))
        elif first.startswith("- "):
            items: list[str] = []
            for line in lines:
                if line.startswith("- "):
                    items.append(line[2:])
                else:
                    items[-1] += " " + line
            blocks.append(Block("bullets", items=items))
        elif all(line.startswith("|") for line in lines):
            rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines]
            blocks.append(Block("table", rows=rows))
        else:
            blocks.append(Block("p", joined))
    return blocks


# --------------------------------------------------------------------------
# Document text
# --------------------------------------------------------------------------

SECURITY_POLICY = """
    = Northwind Robotics Information Security Policy

    This policy applies to every Northwind Robotics employee and contractor. It
    is owned by the Chief Information Security Officer, Marcus Lindqvist.

    # Accounts and access

    ## Passwords

    Every Northwind account is protected by a password that follows these rules:

    - Passwords must be at least 16 characters long.
    - Store all work passwords in Vaultline, the company password manager.
    - Never reuse a Northwind password on any other website or service.
    - Passwords have no scheduled expiry; change a password only when it may
      have been exposed.

    ## Multi-factor authentication

    Multi-factor authentication (MFA) is mandatory for every Northwind account.
    Every employee receives a YubiKey hardware security key on their first day.
    SMS text-message codes are not accepted as a second factor.

    # Devices

    ## Laptop encryption

    Full-disk encryption must be turned on for every company laptop: FileVault
    on macOS and BitLocker on Windows. Laptops must lock the screen
    automatically after 15 minutes of inactivity.

    ## Lost or stolen devices

    A lost or stolen laptop, phone or security key is a security incident and
    must be reported in the same way as any other incident.

    # Incidents

    ## Reporting security incidents

    Report security incidents to security@northwind.example within 1 hour of
    discovering them. Outside office hours, also call the security hotline on
    +1 253 555 0142.

    Forward suspicious e-mails, including suspected phishing, to
    phishing@northwind.example and then delete them.

    # Training and data classification

    ## Security training

    New employees must complete security awareness training within 7 days of
    their start date.

    ## Data classification

    All company information belongs to one of four classification levels:

    | Level | Examples | Handling
    | Public | Press releases, published product sheets | No restrictions
    | Internal | Employee handbook, org chart | Employees only
    | Confidential | Customer contracts, source code | Need-to-know; encrypt in transit
    | Restricted | Salary data, performance reviews | HR or named people only

    Restricted information must never be sent by unencrypted e-mail.
"""

PERFORMANCE_CALIBRATION = """
    = Performance Review Calibration Note, 2025 Cycle

    CONFIDENTIAL - HR ONLY. This note is restricted to the People Operations
    team and the managers taking part in calibration. Do not forward it.

    # Calibration process

    ## Timeline

    The calibration meeting for all departments is held on October 9, 2025.
    Final ratings are locked on October 24, 2025. Managers must not tell
    employees their rating before ratings are locked.

    ## Rating guidance

    Managers use a three-point rating scale:

    - Exceeds expectations: consistently delivers beyond the role's level.
    - Meets expectations: delivers what the role's level requires.
    - Below expectations: does not yet deliver what the role's level requires.

    No more than 35% of any team may be rated "Exceeds expectations".
    Exceptions need written approval from People Operations.

    # Compensation outcomes

    ## Merit budget

    The merit increase budget for the 2025 cycle is 3.8% of payroll. Employees
    rated Below expectations receive no merit increase and are placed on a
    performance improvement plan.

    | Rating | Merit increase guideline
    | Exceeds expectations | 5.5% to 7.5% of base salary
    | Meets expectations | 2.5% to 4.5% of base salary
    | Below expectations | No merit increase

    ## Calibration note for the Skylark deployment team

    The Skylark deployment team was short-staffed for most of 2025. Engineers
    on that team who missed goals because they were pulled into customer
    escalations must not be rated Below expectations for those goals alone.
"""

# One markup string per PDF page.
IT_HANDBOOK_PAGES = [
    """
    = Northwind Robotics IT Handbook

    How to get help, connect and look after your equipment.

    # 1. Getting help

    The Northwind IT help desk supports every employee with laptops, accounts,
    networks and software.

    The IT help desk is at extension 4357. You can also e-mail
    helpdesk@northwind.example or open a ticket at help.northwind.example.

    The help desk is staffed from 6:30 a.m. to 6:30 p.m. Pacific time, Monday
    to Friday.

    ## Ticket priorities

    P1 tickets (robots in a customer warehouse are down, or a whole team cannot
    work) receive a response within 20 minutes.

    P2 tickets (one person cannot work) receive a response on the same
    business day.

    P3 tickets (questions and requests) receive a response by the end of the
    next business day.
    """,
    """
    # 2. VPN and remote access

    Northwind's VPN service is called NorthGate. Install the NorthGate client
    from the software portal and connect to vpn.northwind.example.

    The VPN must be used on every network outside a Northwind office, including
    home networks, hotels and airports. The VPN is not needed inside a
    Northwind office.

    NorthGate asks you to sign in again with your security key every 12 hours.

    ## Working from abroad

    Tell the help desk before you travel outside the United States with a
    company laptop, so that NorthGate access from your destination can be
    enabled.
    """,
    """
    # 3. Equipment

    New employees choose either an Apple MacBook Pro or a Lenovo ThinkPad X1
    Carbon laptop. Laptops are replaced every 36 months.

    Every employee may order one 27-inch external monitor through the help
    desk.

    Remote employees receive a one-time home-office allowance of $650 for a
    desk, chair or other office furniture.

    All company equipment must be returned to IT on or before the employee's
    last working day.
    """,
    """
    # 4. Networks, software and accounts

    In Northwind offices, employees connect to the NW-Staff Wi-Fi network.
    Visitors use the NW-Guest network, whose password changes every Monday and
    is shown at reception.

    Software that is not in the software portal must be requested through a
    help desk ticket and approved by IT before it is installed.

    Forgotten passwords can be reset at id.northwind.example without calling
    the help desk.
    """,
]

# "= " is the title slide (next paragraph = subtitle); each "# " starts a
# content slide with bullets, or with a table.
BENEFITS_OVERVIEW = """
    = Northwind Benefits Overview 2025

    People Operations - benefits@northwind.example

    # Health insurance

    - Three medical plans: Cascade PPO, Cascade HDHP and Evergreen HMO
    - Northwind pays 90% of the premium for employee-only coverage
    - Northwind pays 80% of the premium for spouses, partners and children
    - Coverage starts on the first day of employment

    # 401(k) retirement plan

    - Northwind matches 401(k) contributions 100% up to 5% of salary
    - The company match vests immediately
    - The plan is administered by Harborline Retirement
    - Employees can change their contribution rate at any time

    # Wellness stipend

    - Every employee receives a wellness stipend of $1,200 per year
    - Use it for gym memberships, fitness classes, sports equipment or
      mental-health apps
    - Unused stipend does not roll over to the next year

    # Open enrollment 2025

    | Milestone | Date
    | Open enrollment opens | November 3, 2025
    | Benefits fair at the Tacoma office | November 6, 2025
    | Open enrollment closes | November 21, 2025
    | New elections take effect | January 1, 2026

    # Questions?

    - E-mail the benefits team at benefits@northwind.example
    - Plan details are in the benefits summary spreadsheet
"""

BENEFITS_SHEET: list[list[str]] = [
    ["Benefit", "Provider", "What Northwind pays", "Details"],
    [
        "Dental",
        "Brightsmile Dental",
        "100% of the premium",
        "Preventive care is covered in full",
    ],
    [
        "Vision",
        "ClearView Vision",
        "100% of the premium",
        "$150 frame allowance every 24 months",
    ],
    [
        "Life insurance",
        "Summit Mutual",
        "100% of the premium",
        "Cover of 3x annual base salary",
    ],
    [
        "Short-term disability",
        "Summit Mutual",
        "100% of the premium",
        "Pays 60% of base salary for up to 26 weeks",
    ],
    [
        "Employee assistance programme",
        "LifeBridge EAP",
        "Full cost",
        "6 free confidential counselling sessions per issue",
    ],
    [
        "Commuter benefit",
        "TransitFlex",
        "Pre-tax payroll deduction",
        "Up to $315 per month for transit and parking",
    ],
]

PREMIUMS_HEADER: list[str] = [
    "Plan",
    "Plan type",
    "Employee monthly cost, employee only (USD)",
    "Employee monthly cost, family (USD)",
    "Annual deductible, employee only (USD)",
]
PREMIUMS_ROWS: list[tuple[str, str, int, int, int]] = [
    ("Cascade PPO", "PPO", 64, 412, 750),
    ("Cascade HDHP", "High-deductible plan with HSA", 0, 188, 3200),
    ("Evergreen HMO", "HMO", 38, 296, 400),
]
PREMIUMS_NOTE = "Northwind contributes $1,000 per year to the HSA of every Cascade HDHP member."

EMAIL_HEADERS: dict[str, str] = {
    "From": "Jordan Reyes <facilities@northwind.example>",
    "To": "All Staff <all-staff@northwind.example>",
    "Subject": "Tacoma office moving to 14 Harbor Street",
    "Date": "Mon, 02 Jun 2025 09:15:00 -0700",
    "Message-ID": "<office-move-2025@northwind.example>",
}
EMAIL_BODY = """\
Hi everyone,

Our Tacoma headquarters is moving. From Monday, July 28, 2025, the office
will be at 14 Harbor Street, Tacoma, WA 98402.

The old office at 2201 Pacific Avenue closes at 3 p.m. on Friday,
July 25, 2025. Please pack your desk into the labelled crates by
Thursday, July 24, 2025. The movers will not pack personal items.

New access badges are handed out at the reception desk of 14 Harbor Street
from 8:30 a.m. on July 28. Your old badge stops working on July 25.

The new building has a bike room with space for 48 bicycles, and staff can
park in the Harbor Street garage for $9 per day.

Questions about the move go to facilities@northwind.example.

Thanks,
Jordan Reyes
Facilities Manager, Northwind Robotics
"""


# --------------------------------------------------------------------------
# Writers
# --------------------------------------------------------------------------


def normalize_ooxml(path: Path) -> None:
    """Re-zip an Office Open XML file with fixed timestamps and core dates."""
    with zipfile.ZipFile(path) as src:
        entries = [(info.filename, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w") as dst:
        for name, data in entries:
            content = data
            if name == "docProps/core.xml":
                content = _CORE_DATE_RE.sub(rb"\g<1>" + FIXED_ISO + rb"\g<3>", data)
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            dst.writestr(info, content)


def _set_docx_properties(document: DocxDocument, title: str) -> None:
    """Give a Word document fixed, descriptive core properties."""
    props = document.core_properties
    props.title = title
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.subject = "Northwind Robotics employee handbook (fictional sample)"
    props.comments = "Fictional sample document for the Citewise test corpus."
    props.revision = 1
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    props.last_printed = FIXED_DATETIME


def write_docx(path: Path, markup: str) -> None:
    """Write a Word document using real Title/Heading/List Bullet styles."""
    document = docx.Document()
    title = ""
    for block in parse_blocks(markup):
        if block.kind == "title":
            title = block.text
            document.add_heading(block.text, level=0)
        elif block.kind == "h1":
            document.add_heading(block.text, level=1)
        elif block.kind == "h2":
            document.add_heading(block.text, level=2)
        elif block.kind == "p":
            document.add_paragraph(block.text)
        elif block.kind == "bullets":
            for item in block.items:
                document.add_paragraph(item, style="List Bullet")
        elif block.kind == "table":
            table = document.add_table(rows=len(block.rows), cols=len(block.rows[0]))
            table.style = "Table Grid"
            for r, row in enumerate(block.rows):
                for c, text in enumerate(row):
                    cell = table.cell(r, c)
                    cell.text = text
                    if r == 0:
                        for run in cell.paragraphs[0].runs:
                            run.bold = True
    _set_docx_properties(document, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    document.save(str(path))
    normalize_ooxml(path)


def make_security_policy() -> Path:
    """Create policies/security-policy.docx."""
    path = CORPUS / "policies" / "security-policy.docx"
    write_docx(path, SECURITY_POLICY)
    return path


def make_performance_calibration() -> Path:
    """Create hr/performance-calibration.docx (restricted to HR)."""
    path = CORPUS / "hr" / "performance-calibration.docx"
    write_docx(path, PERFORMANCE_CALIBRATION)
    return path


def _pdf_footer(canvas: Canvas, doc: SimpleDocTemplate) -> None:
    """Draw the running footer with the page number."""
    canvas.saveState()
    canvas.setFont("Helvetica", 9)
    canvas.drawString(inch, 0.6 * inch, "Northwind Robotics IT Handbook")
    canvas.drawRightString(LETTER[0] - inch, 0.6 * inch, f"Page {doc.page}")
    canvas.restoreState()


def make_it_handbook() -> Path:
    """Create it/it-handbook.pdf: one section per page, extractable text."""
    path = CORPUS / "it" / "it-handbook.pdf"
    path.parent.mkdir(parents=True, exist_ok=True)
    styles = getSampleStyleSheet()
    body = ParagraphStyle("Body", parent=styles["BodyText"], fontSize=11, leading=15)
    style_for = {
        "title": styles["Title"],
        "h1": styles["Heading1"],
        "h2": styles["Heading2"],
        "p": body,
    }
    story: list[Flowable] = []
    for page_number, markup in enumerate(IT_HANDBOOK_PAGES):
        if page_number:
            story.append(PageBreak())
        for block in parse_blocks(markup):
            story.append(Paragraph(block.text, style_for[block.kind]))
            if block.kind == "p":
                story.append(Spacer(1, 6))
    doc = SimpleDocTemplate(
        str(path),
        pagesize=LETTER,
        title="Northwind Robotics IT Handbook",
        author=AUTHOR,
        subject="IT help desk, VPN and equipment",
        creator="samples/make_corpus.py",
        invariant=True,
    )
    doc.build(story, onFirstPage=_pdf_footer, onLaterPages=_pdf_footer)
    return path


def make_benefits_overview() -> Path:
    """Create benefits/benefits-overview.pptx (6 slides, one with a table)."""
    path = CORPUS / "benefits" / "benefits-overview.pptx"
    path.parent.mkdir(parents=True, exist_ok=True)
    prs = pptx.Presentation()
    title_layout = prs.slide_layouts[0]
    content_layout = prs.slide_layouts[1]
    title_only_layout = prs.slide_layouts[5]

    blocks = parse_blocks(BENEFITS_OVERVIEW)
    for index, block in enumerate(blocks):
        body = blocks[index + 1] if index + 1 < len(blocks) else None
        if block.kind == "title" and body is not None:
            slide = prs.slides.add_slide(title_layout)
            slide.shapes.title.text = block.text
            slide.placeholders[1].text_frame.text = body.text
        elif block.kind == "h1" and body is not None and body.kind == "bullets":
            slide = prs.slides.add_slide(content_layout)
            slide.shapes.title.text = block.text
            frame = slide.placeholders[1].text_frame
            frame.text = body.items[0]
            for item in body.items[1:]:
                frame.add_paragraph().text = item
        elif block.kind == "h1" and body is not None and body.kind == "table":
            slide = prs.slides.add_slide(title_only_layout)
            slide.shapes.title.text = block.text
            n_rows, n_cols = len(body.rows), len(body.rows[0])
            shape = slide.shapes.add_table(
                n_rows, n_cols, Inches(1), Inches(2), Inches(8), Inches(0.5 * n_rows)
            )
            for r, row in enumerate(body.rows):
                for c, text in enumerate(row):
                    cell = shape.table.cell(r, c)
                    cell.text = text
                    for run in cell.text_frame.paragraphs[0].runs:
                        run.font.size = Pt(18)

    props = prs.core_properties
    props.title = "Northwind Benefits Overview 2025"
    props.author = AUTHOR
    props.last_modified_by = AUTHOR
    props.revision = 1
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    props.last_printed = FIXED_DATETIME
    prs.save(str(path))
    normalize_ooxml(path)
    return path


def make_benefits_summary() -> Path:
    """Create benefits/benefits-summary.xlsx (two sheets with header rows)."""
    path = CORPUS / "benefits" / "benefits-summary.xlsx"
    path.parent.mkdir(parents=True, exist_ok=True)
    wb = openpyxl.Workbook()
    bold = Font(bold=True)
    fill = PatternFill("solid", fgColor="DDEBF7")

    ws = wb.active
    if ws is None:  # pragma: no cover - a new workbook always has a sheet
        raise RuntimeError("openpyxl created a workbook without a sheet")
    ws.title = "Benefits"
    for row in BENEFITS_SHEET:
        ws.append(row)
    for column, width in zip("ABCD", (30, 22, 28, 50), strict=True):
        ws.column_dimensions[column].width = width

    ws2 = wb.create_sheet("Medical premiums")
    ws2.append(PREMIUMS_HEADER)
    for plan_row in PREMIUMS_ROWS:
        ws2.append(list(plan_row))
    for row_cells in ws2.iter_rows(min_row=2, min_col=3, max_col=5):
        for cell in row_cells:
            cell.number_format = '"$"#,##0'
    ws2.append([])
    ws2.append([PREMIUMS_NOTE])
    for column, width in zip("ABCDE", (18, 30, 26, 26, 26), strict=True):
        ws2.column_dimensions[column].width = width

    for sheet in (ws, ws2):
        for cell in sheet[1]:
            cell.font = bold
            cell.fill = fill
        sheet.freeze_panes = "A2"

    props = wb.properties
    props.title = "Northwind Benefits Summary 2025"
    props.creator = AUTHOR
    props.lastModifiedBy = AUTHOR
    props.created = FIXED_DATETIME
    props.modified = FIXED_DATETIME
    wb.save(str(path))
    normalize_ooxml(path)  # openpyxl stamps "modified" with the current time
    return path


def make_office_move_email() -> Path:
    """Create announcements/office-move.eml, a plain-text RFC 822 message."""
    path = CORPUS / "announcements" / "office-move.eml"
    path.parent.mkdir(parents=True, exist_ok=True)
    msg = EmailMessage()
    for name, value in EMAIL_HEADERS.items():
        msg[name] = value
    msg.set_content(EMAIL_BODY)
    path.write_bytes(msg.as_bytes(policy=policy.default))
    return path


GENERATORS: list[Callable[[], Path]] = [
    make_security_policy,
    make_performance_calibration,
    make_it_handbook,
    make_benefits_overview,
    make_benefits_summary,
    make_office_move_email,
]


# --------------------------------------------------------------------------
# Verification
# --------------------------------------------------------------------------


def _require(path: Path, text: str, needles: Sequence[str]) -> None:
    """Fail unless every needle occurs in the extracted text."""
    missing = [n for n in needles if n not in text]
    if missing:
        raise AssertionError(f"{path}: missing expected text {missing}")


def _check_docx(path: Path, needles: Sequence[str]) -> str:
    """Open a Word file and check its styles, text and table."""
    document = docx.Document(str(path))
    styles = {p.style.name for p in document.paragraphs if p.style is not None}
    cells = [c.text for t in document.tables for row in t.rows for c in row.cells]
    text = "\n".join([*(p.text for p in document.paragraphs), *cells])
    _require(path, text, needles)
    for style in ("Title", "Heading 1", "Heading 2", "List Bullet"):
        if style not in styles:
            raise AssertionError(f"{path}: no paragraph with style {style!r}")
    if not document.tables:
        raise AssertionError(f"{path}: no table")
    return f"{len(document.paragraphs)} paragraphs, {len(document.tables)} table(s)"


def _check_pdf(path: Path) -> str:
    """Open the PDF and check that every page has extractable text."""
    reader = PdfReader(str(path))
    if len(reader.pages) < MIN_PDF_PAGES:
        raise AssertionError(f"{path}: only {len(reader.pages)} pages")
    pages = zip(reader.pages, IT_HANDBOOK_PAGES, strict=True)
    for number, (page, markup) in enumerate(pages, start=1):
        text = " ".join(page.extract_text().split())
        heading = next(b.text for b in parse_blocks(markup) if b.kind == "h1")
        _require(path, text, [heading, f"Page {number}"])
    full = " ".join(" ".join(p.extract_text().split()) for p in reader.pages)
    _require(path, full, ["extension 4357", "NorthGate", "$650"])
    return f"{len(reader.pages)} pages, heading and body text extractable on each"


def _check_pptx(path: Path) -> str:
    """Open the presentation and check slide titles, bullets and the table."""
    prs = pptx.Presentation(str(path))
    texts: list[str] = []
    tables = 0
    for slide in prs.slides:
        for shape in slide.shapes:
            if shape.has_text_frame:
                texts.append(shape.text_frame.text)
            if shape.has_table:
                tables += 1
                rows = shape.table.rows
                texts.extend(c.text for row in rows for c in row.cells)
    needles = ["100% up to 5% of salary", "$1,200", "November 21, 2025"]
    _require(path, "\n".join(texts), needles)
    return f"{len(prs.slides)} slides, {tables} table(s)"


def _check_xlsx(path: Path) -> str:
    """Open the workbook and check both sheets."""
    wb = openpyxl.load_workbook(str(path))
    values = [
        str(v)
        for ws in wb.worksheets
        for row in ws.iter_rows(values_only=True)
        for v in row
        if v is not None
    ]
    needles = ["ClearView Vision", "3x annual base salary", "412"]
    _require(path, "\n".join(values), needles)
    return f"sheets {wb.sheetnames}"


def _check_eml(path: Path) -> str:
    """Parse the e-mail and check headers and plain-text body."""
    msg = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    body = msg.get_body(preferencelist=("plain",))
    if body is None:
        raise AssertionError(f"{path}: no text/plain body")
    _require(path, body.get_content(), ["14 Harbor Street", "July 28, 2025"])
    return f"Subject: {msg['Subject']!r}, Date: {msg['Date']}"


def verify() -> None:
    """Open every generated file with its library and print a one-line check."""
    checks: list[tuple[str, Callable[[Path], str]]] = [
        (
            "policies/security-policy.docx",
            lambda p: _check_docx(p, ["at least 16 characters", "within 1 hour"]),
        ),
        (
            "hr/performance-calibration.docx",
            lambda p: _check_docx(p, ["3.8% of payroll", "October 9, 2025"]),
        ),
        ("it/it-handbook.pdf", _check_pdf),
        ("benefits/benefits-overview.pptx", _check_pptx),
        ("benefits/benefits-summary.xlsx", _check_xlsx),
        ("announcements/office-move.eml", _check_eml),
    ]
    for relative, check in checks:
        path = CORPUS / relative
        detail = check(path)
        print(f"ok  {relative}  ({path.stat().st_size:,} bytes): {detail}")
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    print(f"corpus total: {total:,} bytes")


def main(argv: Sequence[str] | None = None) -> int:
    """Generate the binary corpus documents and (by default) verify them."""
    parser = argparse.ArgumentParser(
        description="Generate the binary documents of the sample corpus."
    )
    parser.add_argument("--no-check", action="store_true", help="skip verification")
    args = parser.parse_args(argv)
    for generate in GENERATORS:
        path = generate()
        print(f"wrote {path.relative_to(CORPUS)}")
    if not args.no_check:
        verify()
    return 0


if __name__ == "__main__":
    sys.exit(main())
