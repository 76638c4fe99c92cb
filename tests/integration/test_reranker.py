"""The cross-encoder reranker: trained here from the shipped MiniLM on a tiny slice, then used."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ModelLoadError
from core.models import Acl, Chunk
from retrieval.cross_encoder import CrossEncoderReranker, RelevancePair, train_cross_encoder
from retrieval.embedder import shipped_minilm_path
from retrieval.query import ScoredChunk

pytestmark = [pytest.mark.slow, pytest.mark.model]

FACTS = {
    "How long is paid parental leave?": "New parents get 18 weeks of paid parental leave.",
    "How much are hotels reimbursed?": "Hotels are reimbursed up to $240 per night.",
    "How many sick days do employees get?": "Every employee receives 11 paid sick days per year.",
    "Who approves expense reports above $5,000?": "Reports above $5,000 need CFO approval.",
}


def _pairs() -> list[RelevancePair]:
    pairs = []
    passages = list(FACTS.values())
    for n, (question, answer) in enumerate(FACTS.items()):
        pairs.append(RelevancePair(question, answer, 1.0))
        for wrong in (passages[(n + 1) % 4], passages[(n + 2) % 4]):
            pairs.append(RelevancePair(question, wrong, 0.0))
    return pairs


def _hit(n: int, text: str) -> ScoredChunk:
    chunk = Chunk(
        chunk_id=f"c{n}",
        doc_id=f"d{n}",
        version=1,
        ordinal=0,
        text=text,
        title="Handbook",
        source_uri=f"file:///h{n}.md",
        acl=Acl(groups=("public",)),
    )
    return ScoredChunk(chunk=chunk, score=1.0 - n / 10)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("reranker") / "model"
    return train_cross_encoder(
        shipped_minilm_path(),
        _pairs() * 3,
        out,
        epochs=5,
        batch_size=8,
        learning_rate=1e-4,
        progress=False,
    )


def test_a_trained_reranker_learns_its_training_pairs(trained: Path) -> None:
    reranker = CrossEncoderReranker(trained)
    for question, answer in FACTS.items():
        hits = [_hit(n, text) for n, text in enumerate(FACTS.values())]
        ranked = reranker.rerank(question, hits)
        assert ranked[0].chunk.text == answer, question


def test_reranking_only_reorders_the_candidates(trained: Path) -> None:
    reranker = CrossEncoderReranker(trained)
    hits = [_hit(n, text) for n, text in enumerate(FACTS.values())]
    ranked = reranker.rerank("parental leave", hits)
    assert {h.chunk.chunk_id for h in ranked} == {h.chunk.chunk_id for h in hits}
    assert [h.score for h in ranked] == sorted((h.score for h in ranked), reverse=True)
    assert reranker.rerank("anything", []) == []


def test_a_missing_model_says_how_to_get_one(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match="train one first"):
        CrossEncoderReranker(tmp_path / "nothing").warm_up()
