"""A screen for text in documents that addresses instructions to the assistant.

Fencing sources as data and telling the model not to obey them is the first defence; small
models still obey sometimes (measured: Qwen2.5-1.5B answered "Yes, expense reports are
approved automatically" from the sample corpus's planted note). So, as a second defence,
sentences of a source that read as commands to an AI assistant ("ignore previous
instructions", "you are now in administrator mode", "reply that ...") are replaced by a
placeholder before the model sees them. The patterns are deliberately narrow: ordinary
policy text ("Employees must reply within 2 days") does not match.
"""

from __future__ import annotations

import re

from generation.sentences import split_sentences

REDACTED = "[Text removed: it gave instructions to the assistant.]"

_PATTERNS = [
    r"\b(?:ignore|disregard|forget|override)\b[^.\n]{0,40}\b(?:previous|prior|above|earlier"
    r"|all|your|system)\b[^.\n]{0,20}\b(?:instructions?|rules|prompts?|directions)\b",
    r"\byou are now\b[^.\n]{0,40}\b(?:mode|assistant|AI|model|chatbot|DAN)\b",
    r"\b(?:administrator|developer|admin|god|jailbreak) mode\b",
    r"\b(?:system prompt|new instructions|hidden instructions)\b",
    r"\b(?:as an? (?:AI|language model|assistant)),? (?:you|always|never)\b",
    r"\b(?:assistant|AI|model|chatbot)s?,? (?:must|should|shall) (?:reply|say|respond|tell)\b",
    r"\b(?:reply|respond)(?: to (?:the|every|all) users?)? that\b",
    r"\btell (?:every|all|each) users?\b",
]
_INSTRUCTION = re.compile("|".join(f"(?:{p})" for p in _PATTERNS), re.IGNORECASE)


def redact_instructions(text: str) -> tuple[str, int]:
    """``text`` with every sentence that instructs the assistant replaced by ``REDACTED``
    (consecutive ones collapse into one), and how many sentences were removed."""
    if not _INSTRUCTION.search(text):
        return text, 0
    parts: list[str] = []
    removed = 0
    at = 0
    for start, end in split_sentences(text):
        if _INSTRUCTION.search(text[start:end]):
            gap = text[at:start]
            follows_redaction = not gap.strip() and "".join(parts).endswith(REDACTED)
            if not follows_redaction:
                parts += [gap, REDACTED]
            removed += 1
            at = end
    parts.append(text[at:])
    return "".join(parts), removed
