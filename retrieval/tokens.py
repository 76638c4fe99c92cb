"""Token counting with a model's own tokenizer (Hugging Face ``tokenizers``, no torch)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from core.errors import ModelLoadError

if TYPE_CHECKING:
    from tokenizers import Tokenizer


class TokenCounter(Protocol):
    """Counts and produces the tokens a model sees."""

    def count(self, text: str) -> int:
        """Number of tokens in ``text``, special tokens excluded."""
        ...

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text``, special tokens excluded."""
        ...


class HfTokenCounter:
    """Counts tokens with the ``tokenizer.json`` of a Hugging Face model directory."""

    def __init__(self, model_dir: Path) -> None:
        self._file = model_dir / "tokenizer.json"
        self._tokenizer: Tokenizer | None = None

    def _get(self) -> Tokenizer:
        if self._tokenizer is None:
            from tokenizers import Tokenizer

            try:
                tokenizer = Tokenizer.from_file(str(self._file))
            except Exception as e:
                raise ModelLoadError(f"cannot load tokenizer {self._file}: {e}") from e
            # Count every token: the model's own truncation would hide overflow.
            tokenizer.no_truncation()
            tokenizer.no_padding()
            self._tokenizer = tokenizer
        return self._tokenizer

    def encode(self, text: str) -> list[int]:
        """Token ids without [CLS]/[SEP]."""
        return list(self._get().encode(text, add_special_tokens=False).ids)

    def count(self, text: str) -> int:
        """Token count without [CLS]/[SEP]."""
        return len(self._get().encode(text, add_special_tokens=False).ids)
