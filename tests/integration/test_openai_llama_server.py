"""OpenAICompatibleGenerator against a real OpenAI-protocol server: llama-cpp-python's.

The module starts ``python -m llama_cpp.server`` on the shipped Qwen2.5 0.5B GGUF once, on a
free local port, and stops it afterwards. This is the backend's CI check (vLLM itself needs
a separate venv and minutes to start: see test_vllm_server.py).
"""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from generation.answer_types import ChatMessage, FinishReason, GenerationRequest, Role
from generation.errors import GenerationError
from generation.openai_generator import OpenAICompatibleGenerator, estimate_tokens

pytestmark = [pytest.mark.model, pytest.mark.slow]

ALIAS = "citewise-test"
START_DEADLINE_S = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


@pytest.fixture(scope="module")
def base_url(small_gguf: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A llama_cpp.server serving ``small_gguf`` as ``citewise-test``; its /v1 URL."""
    port = free_port()
    log = tmp_path_factory.mktemp("llama_server") / "server.log"
    command = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(small_gguf),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        "2048",
        "--model_alias",
        ALIAS,
    ]
    with log.open("wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + START_DEADLINE_S
        while True:
            if process.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {process.returncode}:\n{tail(log)}")
            try:
                if httpx.get(f"{url}/models", timeout=2.0).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"llama_cpp.server not ready in {START_DEADLINE_S:g} s:\n{tail(log)}")
            time.sleep(0.5)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


@pytest.fixture(scope="module")
def generator(base_url: str) -> Iterator[OpenAICompatibleGenerator]:
    gen = OpenAICompatibleGenerator(
        base_url, ALIAS, context_window=2048, structured_output="json_object", timeout_s=120
    )
    gen.warm_up()
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
    result = generator.generate(ask("What is the capital of France? Answer in one word."))
    assert "paris" in result.text.lower()
    assert result.finish_reason is FinishReason.STOP
    assert result.prompt_tokens > 10  # system + user message + chat template
    assert 0 < result.completion_tokens < 24
    assert result.timings.total_s > 0


def test_max_tokens_reports_length(generator: OpenAICompatibleGenerator) -> None:
    result = generator.generate(ask("Count from 1 to 100, separated by commas.", max_tokens=5))
    assert result.finish_reason is FinishReason.LENGTH
    assert result.completion_tokens == 5


def test_stream_equals_generate_at_temperature_zero(
    generator: OpenAICompatibleGenerator,
) -> None:
    # Greedy decoding on one server with one model: streaming changes only the transport.
    request = ask("Name three primary colours.", max_tokens=32)
    deltas = list(generator.stream(request))
    assert len(deltas) > 3  # really streamed, not one blob
    assert "".join(deltas) == generator.generate(request).text


def test_json_object_schema_constrains_the_output(generator: OpenAICompatibleGenerator) -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "country": {"type": "string"},
            "is_capital": {"type": "boolean"},
        },
        "required": ["city", "country", "is_capital"],
    }
    # The prompt does not ask for JSON: only the server's grammar makes the answer JSON.
    request = ask("Tell me about Rome.", max_tokens=64, json_schema=schema)
    result = generator.generate(request)
    data = json.loads(result.text)
    assert set(data) >= {"city", "country", "is_capital"}
    assert isinstance(data["city"], str)
    assert isinstance(data["country"], str)
    assert isinstance(data["is_capital"], bool)


def test_count_tokens_uses_the_servers_tokenizer(
    generator: OpenAICompatibleGenerator, base_url: str
) -> None:
    text = "The quick brown fox jumps over the lazy dog. Refunds take 14 days."
    root = base_url.removesuffix("/v1")
    served = httpx.post(f"{root}/extras/tokenize", json={"input": text}, timeout=30).json()
    count = generator.count_tokens(text)
    assert count == len(served["tokens"])
    assert count > 0
    assert count != estimate_tokens(text)  # not the character-based fallback


def test_unknown_model_is_a_non_retryable_error(base_url: str) -> None:
    # llama_cpp.server answers any model name with its own model, so the generator checks the
    # served models before its first request.
    generator = OpenAICompatibleGenerator(base_url, "no-such-model", max_retries=0)
    with pytest.raises(GenerationError) as info:
        generator.generate(ask("hi"))
    assert info.value.retryable is False
    assert "no-such-model" in info.value.message
    assert ALIAS in info.value.message


def test_a_closed_port_is_a_retryable_error() -> None:
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    generator = OpenAICompatibleGenerator(url, ALIAS, max_retries=1, timeout_s=5)
    with pytest.raises(GenerationError) as info:
        generator.generate(ask("hi"))
    assert info.value.retryable is True
    assert url in info.value.message
    assert "cannot connect" in info.value.message
