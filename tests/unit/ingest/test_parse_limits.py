"""Parsing limits (issue 16): ZIP bombs and page counts refused before parsing; parser
processes under a memory limit and a per-file wall-clock limit, the batch going on."""

from __future__ import annotations

import signal
import time
import zipfile
from collections.abc import Sequence
from pathlib import Path

import pytest
from pypdf import PdfWriter

from core.errors import ParseError, TooLargeError
from ingest.document_parser import ParsedDocument, Passage
from ingest.parse_limits import ParseLimits, check_archive, check_pages
from ingest.parser_pool import ParserPool
from ingest.unstructured_adapter.partitioning import partition_file

MB = 1_000_000


class HungryProcessor:
    """'hog*' allocates 2 GB, 'slow*' sleeps, 'stuck*' sleeps deaf to the alarm (like native
    code that never returns to Python); anything else parses."""

    def warm_up(self) -> None:
        pass

    def process(self, path: Path) -> ParsedDocument:
        name = path.name
        if name.startswith("hog"):
            hog = bytearray(2000 * MB)
            hog[-1] = 1
        if name.startswith("slow"):
            time.sleep(30)
        if name.startswith("stuck"):
            signal.signal(signal.SIGALRM, signal.SIG_IGN)
            time.sleep(60)
        return ParsedDocument(title=name, file_type="txt", passages=(Passage(text=name),))


def make_hungry() -> HungryProcessor:
    return HungryProcessor()


class SlowStartingProcessor(HungryProcessor):
    """Loads its models for 2 s, as a parser's imports do on a loaded machine."""

    def warm_up(self) -> None:
        time.sleep(2.0)


def make_slow_starting() -> SlowStartingProcessor:
    return SlowStartingProcessor()


def _titles(outcomes: Sequence[object]) -> list[str]:
    return [o.title if isinstance(o, ParsedDocument) else type(o).__name__ for o in outcomes]


def test_a_file_needing_more_memory_than_the_limit_fails_alone() -> None:
    limits = ParseLimits(memory_bytes=1500 * MB)
    pool = ParserPool(make_hungry, workers=1, limits=limits)
    outcomes = list(pool.map([Path("a.txt"), Path("hog.txt"), Path("b.txt")]))
    assert _titles(outcomes) == ["a.txt", "TooLargeError", "b.txt"]
    assert "parsing.parser_memory_mb" in str(outcomes[1])


def test_a_file_over_the_time_limit_fails_alone() -> None:
    pool = ParserPool(make_hungry, workers=1, limits=ParseLimits(max_parse_s=1.0))
    started = time.monotonic()
    outcomes = list(pool.map([Path("slow.txt"), Path("b.txt")]))
    assert time.monotonic() - started < 20
    assert _titles(outcomes) == ["ParseError", "b.txt"]
    assert "parsing.max_parse_s" in str(outcomes[0])


def test_a_parser_deaf_to_its_alarm_is_killed_and_replaced() -> None:
    limits = ParseLimits(max_parse_s=0.5)
    pool = ParserPool(make_hungry, workers=1, limits=limits, kill_grace_s=1.0)
    started = time.monotonic()
    outcomes = list(pool.map([Path("stuck.txt"), Path("b.txt"), Path("c.txt")]))
    assert time.monotonic() - started < 40
    assert _titles(outcomes) == ["ParseError", "b.txt", "c.txt"]


def test_a_workers_start_up_is_not_billed_to_its_first_file() -> None:
    # The parent's backstop (limit + grace, 1 s) is shorter than the start-up (2 s), before the
    # first file and again after a stuck file's worker is replaced.
    limits = ParseLimits(max_parse_s=0.5)
    pool = ParserPool(make_slow_starting, workers=1, limits=limits, kill_grace_s=0.5)
    outcomes = list(pool.map([Path("a.txt"), Path("stuck.txt"), Path("b.txt")]))
    assert _titles(outcomes) == ["a.txt", "ParseError", "b.txt"]


def _zip(path: Path, entry_mb: int) -> Path:
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("word/document.xml", b"A" * (entry_mb * MB))
    return path


def test_zip_based_files_are_checked_for_size_and_ratio(tmp_path: Path) -> None:
    bomb = _zip(tmp_path / "bomb.docx", 30)
    with pytest.raises(TooLargeError, match=r"parsing\.max_unzipped_mb"):
        check_archive(bomb, ParseLimits(max_unzipped_bytes=10 * MB, max_zip_ratio=1e9))
    with pytest.raises(TooLargeError, match=r"parsing\.max_zip_ratio"):
        check_archive(bomb, ParseLimits(max_unzipped_bytes=100 * MB, max_zip_ratio=100))
    check_archive(bomb, ParseLimits(max_unzipped_bytes=100 * MB, max_zip_ratio=1e9))
    check_archive(tmp_path / "not-a-zip.md", ParseLimits(max_unzipped_bytes=1))  # not ZIP-based
    broken = tmp_path / "broken.pptx"
    broken.write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(ParseError, match="broken ZIP"):
        check_archive(broken, ParseLimits())


def test_page_limits() -> None:
    limits = ParseLimits(max_pdf_pages=100, max_ocr_pages=10)
    check_pages(100, limits, ocr=False)
    check_pages(10, limits, ocr=True)
    with pytest.raises(TooLargeError, match=r"parsing\.max_pdf_pages"):
        check_pages(101, limits, ocr=False)
    with pytest.raises(TooLargeError, match=r"parsing\.max_ocr_pages"):
        check_pages(11, limits, ocr=True)


def test_a_scanned_pdf_over_the_ocr_limit_is_not_ocred(tmp_path: Path) -> None:
    writer = PdfWriter()
    for _ in range(30):
        writer.add_blank_page(width=612, height=792)
    pdf = tmp_path / "scan.pdf"
    with pdf.open("wb") as f:
        writer.write(f)
    limits = ParseLimits(max_ocr_pages=20)
    with pytest.raises(TooLargeError, match=r"parsing\.max_ocr_pages"):
        partition_file(pdf, pdf_strategy="ocr_only", limits=limits)
