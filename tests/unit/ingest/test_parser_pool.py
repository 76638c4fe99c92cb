"""The parser pool with a fake processor: ordering, per-file errors, crashed workers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from core.errors import EmptyDocumentError, ParseError
from ingest.document_parser import ParsedDocument, Passage
from ingest.parser_pool import ParserPool


class FakeProcessor:
    """Echoes the file name; 'empty*' raises a DocumentError, 'boom*' a random exception,
    and 'crash*' kills the worker process outright."""

    def warm_up(self) -> None:
        pass

    def process(self, path: Path) -> ParsedDocument:
        name = path.name
        if name.startswith("empty"):
            raise EmptyDocumentError("no text could be extracted")
        if name.startswith("boom"):
            raise ValueError("broken\nsecond line")
        if name.startswith("crash"):
            os._exit(3)
        return ParsedDocument(title=name, file_type="txt", passages=(Passage(text=name),))


def make_fake() -> FakeProcessor:
    return FakeProcessor()


@pytest.mark.parametrize("workers", [0, 1, 2])
def test_outcomes_come_back_in_order_with_one_line_errors(workers: int) -> None:
    names = [f"doc{n}.txt" for n in range(20)] + ["empty.txt", "boom.txt", "last.txt"]
    pool = ParserPool(make_fake, workers=workers, window=4)
    outcomes = list(pool.map(Path(n) for n in names))
    assert [o.title for o in outcomes if isinstance(o, ParsedDocument)] == [
        n for n in names if not n.startswith(("empty", "boom"))
    ]
    assert isinstance(outcomes[20], EmptyDocumentError)
    assert isinstance(outcomes[21], ParseError)
    assert outcomes[21].message == "ValueError: broken"


@pytest.mark.parametrize("workers", [0, 2])
def test_started_pools_are_reused(workers: int) -> None:
    pool = ParserPool(make_fake, workers=workers)
    pool.start()
    pool.start()
    assert [o.title for o in pool.map([Path("a.txt")])] == ["a.txt"]  # type: ignore[union-attr]


def test_a_crashing_parser_fails_only_its_file() -> None:
    names = ["a.txt", "b.txt", "crash.txt", "c.txt", "d.txt"]
    outcomes = list(ParserPool(make_fake, workers=1, window=2).map(Path(n) for n in names))
    assert [getattr(o, "title", None) for o in outcomes] == [
        "a.txt",
        "b.txt",
        None,
        "c.txt",
        "d.txt",
    ]
    assert isinstance(outcomes[2], ParseError) and "crashed" in outcomes[2].message
