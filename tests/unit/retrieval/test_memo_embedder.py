from collections.abc import Sequence

from retrieval.memo_embedder import MemoEmbedder


class CountingEmbedder:
    def __init__(self) -> None:
        self.embedded: list[str] = []

    @property
    def dimension(self) -> int:
        return 2

    def warm_up(self) -> None:
        pass

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return [[float(len(t)), 1.0] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return [0.0, float(len(text))]


def test_each_text_is_embedded_once_and_order_is_kept() -> None:
    inner = CountingEmbedder()
    memo = MemoEmbedder(inner)
    first = memo.embed_documents(["aa", "b", "aa"])
    second = memo.embed_documents(["b", "ccc", "aa"])
    assert first == [[2.0, 1.0], [1.0, 1.0], [2.0, 1.0]]
    assert second == [[1.0, 1.0], [3.0, 1.0], [2.0, 1.0]]
    assert inner.embedded == ["aa", "b", "ccc"]


def test_the_memo_is_bounded_least_recently_used_first() -> None:
    inner = CountingEmbedder()
    memo = MemoEmbedder(inner, max_items=2)
    memo.embed_documents(["a", "b"])
    memo.embed_documents(["a"])  # a is now the most recent
    memo.embed_documents(["c"])  # evicts b
    memo.embed_documents(["a", "b"])
    assert inner.embedded == ["a", "b", "c", "b"]
    assert memo.embed_query("xy") == [0.0, 2.0] and memo.dimension == 2
