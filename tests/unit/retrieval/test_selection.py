"""Passage selection by similarity to the question, with the hashing fake embedder."""

import pytest

from core.models import Acl, Chunk
from retrieval.query import ScoredChunk
from retrieval.selection import SimilaritySelector
from tests.unit.generation.fakes import FakeEmbedder


def hit(n: int, text: str) -> ScoredChunk:
    chunk = Chunk(
        chunk_id=f"c{n}",
        doc_id=f"d{n}",
        version=1,
        ordinal=0,
        text=text,
        title="",
        source_uri=f"file:///d{n}.md",
        acl=Acl(groups=("public",)),
    )
    return ScoredChunk(chunk=chunk, score=1.0 / n)


HITS = [
    hit(1, "Awards of up to 3.85% of salary recognise outstanding work."),
    hit(2, "Parental leave is 18 weeks of fully paid leave for every new parent."),
    hit(3, "Paid parental leave can start up to 4 weeks before the birth."),
    hit(4, "The office coffee machine is cleaned on Fridays."),
]


def test_only_the_passages_close_to_the_question_are_kept_in_search_order() -> None:
    selector = SimilaritySelector(FakeEmbedder(), margin=0.2)
    kept = selector.select("How long is paid parental leave for a new parent?", HITS)
    assert [h.chunk.chunk_id for h in kept] == ["c2", "c3"]


def test_a_wide_margin_keeps_everything_and_a_few_hits_are_left_alone() -> None:
    assert SimilaritySelector(FakeEmbedder(), margin=1.0).select("leave", HITS) == HITS
    assert SimilaritySelector(FakeEmbedder(), margin=0.0).select("leave", HITS[:2]) == HITS[:2]
    with pytest.raises(ValueError):
        SimilaritySelector(FakeEmbedder(), margin=-0.1)
