"""The ``Generator`` interface every LLM backend implements."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from generation.answer_types import GenerationRequest, GenerationResult


class Generator(Protocol):
    """A chat LLM: whole answers or streamed token deltas, counted with its own tokenizer.

    Implementations load their model lazily (on ``warm_up`` or the first call), translate
    vendor exceptions into ``GenerationError`` (``retryable`` for timeouts and overload), and
    are safe to call from one thread at a time at least.
    """

    @property
    def context_window(self) -> int:
        """The most tokens prompt plus answer may hold."""
        ...

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Run ``request`` to completion."""
        ...

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Run ``request``, yielding text deltas as the model produces them.

        Concatenated, the deltas equal ``generate(request).text`` for the same sampling.
        """
        ...

    def count_tokens(self, text: str) -> int:
        """Tokens ``text`` takes in this model's prompt (its own tokenizer, no special tokens)."""
        ...

    def warm_up(self) -> None:
        """Load the model (or connect to the server) now rather than on the first call."""
        ...
