"""The kept system-turn state (generation/llama_prefix.py) with the real Qwen2.5-0.5B.

Greedy answers must be the same whether the rules are read afresh or restored, in one
process (after another prompt took the KV cache) and in the next one (from the file).
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from generation.answer_types import ChatMessage, GenerationRequest, Role
from generation.condense import condense_request
from generation.llama_cpp_generator import LlamaCppGenerator
from generation.prompting import PromptBuilder
from retrieval.context import Source

pytestmark = [pytest.mark.model, pytest.mark.slow]

SOURCES = {
    "How many vacation days do employees accrue per month?": (
        "Leave Policy",
        "Full-time employees accrue 1.75 days of paid vacation per month, 21 days per year.",
    ),
    "How much are meals reimbursed per day when travelling?": (
        "Travel and Expenses",
        "Meals while travelling are reimbursed up to 75 EUR per day with receipts.",
    ),
}


def answer_request(builder: PromptBuilder, question: str) -> GenerationRequest:
    title, text = SOURCES[question]
    source = Source(
        number=1,
        doc_id="d1",
        chunk_ids=("c1",),
        source_uri=f"file:///{title.lower().replace(' ', '-')}.md",
        title=title,
        text=text,
        score=1.0,
        token_count=len(text.split()),
    )
    return GenerationRequest(
        messages=builder.messages([source], question), max_tokens=40, temperature=0.0
    )


def run(generator: LlamaCppGenerator, builder: PromptBuilder) -> list[str]:
    """Two answers with a condense prompt between them (which takes the KV cache)."""
    first, second = SOURCES
    history = (
        ChatMessage(role=Role.USER, content=first),
        ChatMessage(role=Role.ASSISTANT, content="1.75 days per month [1]."),
    )
    return [
        generator.generate(answer_request(builder, first)).text,
        generator.generate(condense_request(history, "And sick days?")).text,
        "".join(generator.stream(answer_request(builder, second))),
        generator.generate(answer_request(builder, first)).text,
    ]


def test_restored_prefix_gives_the_same_greedy_answers(
    small_gguf: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    plain = LlamaCppGenerator(small_gguf, context_window=2048, reuse_prefix=False)
    expected = run(plain, PromptBuilder(plain))
    del plain
    assert all(expected) and expected[0] == expected[3]

    kept = LlamaCppGenerator(small_gguf, context_window=2048, prefix_dir=tmp_path)
    with caplog.at_level(logging.INFO, logger="generation.llama_prefix"):
        assert run(kept, PromptBuilder(kept)) == expected
    computed = [r for r in caplog.records if r.getMessage() == "prompt prefix computed"]
    assert len(computed) == 2  # the answer rules and the condense rules, once each
    assert len(list(tmp_path.glob("*.npz"))) == 2
    del kept

    # The next process: the states come from the files, nothing is computed again.
    caplog.clear()
    again = LlamaCppGenerator(small_gguf, context_window=2048, prefix_dir=tmp_path)
    with caplog.at_level(logging.INFO, logger="generation.llama_prefix"):
        assert run(again, PromptBuilder(again)) == expected
    assert not [r for r in caplog.records if r.getMessage() == "prompt prefix computed"]


def test_a_damaged_state_file_falls_back_to_reading_the_prompt(
    small_gguf: Path, tmp_path: Path
) -> None:
    builder_question = next(iter(SOURCES))
    first = LlamaCppGenerator(small_gguf, context_window=2048, prefix_dir=tmp_path)
    expected = first.generate(answer_request(PromptBuilder(first), builder_question)).text
    del first
    (saved,) = tmp_path.glob("*.npz")
    saved.write_bytes(saved.read_bytes()[:1000])  # truncated: unreadable
    second = LlamaCppGenerator(small_gguf, context_window=2048, prefix_dir=tmp_path)
    assert second.generate(answer_request(PromptBuilder(second), builder_question)).text == expected
