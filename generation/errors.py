"""Generation's errors, part of the one ``CitewiseError`` hierarchy.

They live here until ``core/errors.py`` takes them in (generation is their only raiser).
"""

from __future__ import annotations

from core.errors import CitewiseError


class GenerationError(CitewiseError):
    """An LLM backend failed. Backends set ``retryable`` for timeouts and overloads."""


class PromptTooLongError(GenerationError):
    """The prompt does not fit the model's context window even without any source."""
