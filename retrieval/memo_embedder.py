"""An ``Embedder`` that remembers the vectors of texts it has embedded.

Checking one answer embeds the same source sentences several times (attributing uncited
claims, judging cited ones, choosing quotes); on a CPU each pass costs as much as the
retrieval itself. A bounded least-recently-used memo makes every pass after the first free.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence

from retrieval.embedder import Embedder, Vector


class MemoEmbedder:
    """Wraps an ``Embedder``; ``embed_documents`` embeds only texts it has not seen lately."""

    def __init__(self, inner: Embedder, *, max_items: int = 8192) -> None:
        self._inner = inner
        self._max = max_items
        self._memo: OrderedDict[str, Vector] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def dimension(self) -> int:
        """The wrapped embedder's dimension."""
        return self._inner.dimension

    def warm_up(self) -> None:
        """Load the wrapped model."""
        self._inner.warm_up()

    def embed_query(self, text: str) -> Vector:
        """Queries are not memoised: they are embedded once per search anyway."""
        return self._inner.embed_query(text)

    def embed_documents(self, texts: Sequence[str]) -> list[Vector]:
        """Vectors for ``texts`` in order, embedding the unseen ones in one batch."""
        with self._lock:
            known = {t: self._memo[t] for t in texts if t in self._memo}
            for text in known:
                self._memo.move_to_end(text)
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = self._inner.embed_documents(missing)
            known.update(zip(missing, fresh, strict=True))
            with self._lock:
                self._memo.update(zip(missing, fresh, strict=True))
                while len(self._memo) > self._max:
                    self._memo.popitem(last=False)
        return [known[t] for t in texts]
