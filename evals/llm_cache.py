"""The model's replies cached by the exact request: checks and thresholds re-run for free.

Most of what the trust pipeline decides happens *after* generation: the judge, withholding,
answer relevance, the quoted fallback. Sweeping those settings (the trade-off curve of correct
against wrong-shown answers) would otherwise regenerate every answer with the LLM, minutes
each on a CPU. ``CachingGenerator`` wraps the answering model and replays its reply whenever
the very same request (messages, sampling parameters, the model's identity) comes again, so a
sweep costs retrieval and checks only. A different prompt (another context budget, another
template) misses the cache and is generated.

The cache is an append-only JSON Lines file, like the answer cache: a reply is durable as soon
as it exists, and a torn last line is ignored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from generation.answer_types import GenerationRequest, GenerationResult
from generation.generator import Generator


class _Entry(BaseModel):
    model_config = ConfigDict(frozen=True)

    key: str
    result: GenerationResult


class CachingGenerator:
    """A ``Generator`` that replays cached replies to identical requests (see the module doc).

    ``model_id`` names the model behind ``inner`` (a GGUF's digest, a served model's name): a
    reply is only replayed for the same model.
    """

    def __init__(self, inner: Generator, path: Path, *, model_id: str) -> None:
        self._inner = inner
        self._path = path
        self._model_id = model_id
        self._entries: dict[str, GenerationResult] = {}
        self.hits = 0
        self.misses = 0
        if path.is_file():
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = _Entry.model_validate_json(line)
                except ValidationError:
                    continue  # torn by a crash: that reply is generated again
                self._entries[entry.key] = entry.result

    @property
    def context_window(self) -> int:
        """The wrapped model's context window."""
        return self._inner.context_window

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """The cached reply to ``request``, else the model's (cached before returning)."""
        key = self._key(request)
        cached = self._entries.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        result = self._inner.generate(request)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as handle:
            handle.write(_Entry(key=key, result=result).model_dump_json() + "\n")
            handle.flush()
        self._entries[key] = result
        return result

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """The reply in one piece (evaluation does not stream)."""
        yield self.generate(request).text

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` for the wrapped model."""
        return self._inner.count_tokens(text)

    def warm_up(self) -> None:
        """Load the wrapped model."""
        self._inner.warm_up()

    def _key(self, request: GenerationRequest) -> str:
        raw = json.dumps([self._model_id, request.model_dump(mode="json")], sort_keys=True)
        return hashlib.sha256(raw.encode()).hexdigest()[:32]
