"""Generations cached by (question, principal, configuration): judges and metrics can be
re-run for free, and an interrupted run resumes where it stopped.

An append-only JSON Lines file: each answer is written (and flushed) as soon as it exists, so
a crash loses at most the answer in progress; a torn last line is ignored on reading.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from evals.dataset import EvalExample
from generation.answer_types import Answer


class CachedAnswer(BaseModel):
    """One generation as cached: the answer and how long it took to get."""

    model_config = ConfigDict(frozen=True)

    key: str
    example_id: str
    answer: Answer
    latency_s: float


def cache_key(example: EvalExample, config_id: str) -> str:
    """Identifies a generation: the question, who asks it, and the configuration answering."""
    principal = example.principal.model_dump_json()
    raw = json.dumps([example.question, principal, config_id])
    return hashlib.sha256(raw.encode()).hexdigest()[:32]


class GenerationCache:
    """Answers by cache key, loaded from and appended to ``path``.

    ``fresh`` answers every question again (what is cached is not read, new answers are
    still written): after a change to the answer path's code, which the configuration id
    cannot see. The model's replies can still come from the reply cache (``llm_cache``).
    """

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        self._path = path
        self._entries: dict[str, CachedAnswer] = {}
        if path.is_file() and not fresh:
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    entry = CachedAnswer.model_validate_json(line)
                except ValidationError:
                    continue  # a line torn by a crash: that answer is generated again
                self._entries[entry.key] = entry

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: str) -> CachedAnswer | None:
        """The cached generation, if any."""
        return self._entries.get(key)

    def put(self, entry: CachedAnswer) -> None:
        """Remember a generation, durably before returning."""
        self._path.parent.mkdir(parents=True, exist_ok=True)
        with self._path.open("a", encoding="utf-8") as handle:
            handle.write(entry.model_dump_json() + "\n")
            handle.flush()
        self._entries[entry.key] = entry
