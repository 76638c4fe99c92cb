"""A ``Generator`` for any OpenAI-compatible chat server: vLLM at scale, llama.cpp's server.

The official ``openai`` SDK does the HTTP work, including retries: it retries timeouts,
connection errors, 408, 409, 429 and 5xx answers ``max_retries`` times with exponential
backoff, so nothing is retried here. Whatever still fails is translated into
``GenerationError``, ``retryable`` where trying later may succeed (timeouts, connection
errors, 408/409/429, 5xx) and not otherwise (an unknown model, a bad request, a wrong key).
OpenAI response objects never leave this module.

Structured output: vLLM takes ``response_format: {"type": "json_schema", ...}`` (its old
``guided_json`` is silently ignored, so it is never sent); llama.cpp's server only takes
``{"type": "json_object", "schema": ...}``. ``structured_output`` picks one.

Token counting uses the server's own tokenizer through its non-OpenAI endpoint: vLLM's
``POST /tokenize`` or llama.cpp's ``POST /extras/tokenize``, at the server root (``base_url``
less its ``/v1``). The first that answers is remembered. A server with neither gets a
conservative estimate, one token per three characters rounded up (BPE tokenizers average
about four characters per English token, so this over-counts and a prompt budget built on it
errs towards fitting), with a warning logged once.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterator
from typing import Any, Literal, NoReturn, TypeVar, cast

import httpx
import openai
from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
from openai.types.chat.completion_create_params import ResponseFormat

from core.logging import fields
from generation.answer_types import (
    ChatMessage,
    FinishReason,
    GenerationRequest,
    GenerationResult,
    GenerationTimings,
)
from generation.errors import GenerationError

_log = logging.getLogger(__name__)

_FINISH = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH}
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_CHARS_PER_TOKEN_ESTIMATE = 3
_NO_KEY = "EMPTY"  # the SDK insists on a key; servers started without one ignore it

StructuredOutput = Literal["json_schema", "json_object"]
_Tokenizer = Literal["vllm", "llama_cpp", "estimate"]
_T = TypeVar("_T")


def finish_reason(reported: str | None) -> FinishReason:
    """Map an OpenAI ``finish_reason`` onto ours (``tool_calls``, filters... are ``OTHER``)."""
    return _FINISH.get(reported or "", FinishReason.OTHER)


def response_format(schema: dict[str, Any], mode: StructuredOutput) -> dict[str, Any]:
    """The ``response_format`` that constrains output to ``schema`` on the chosen server kind."""
    if mode == "json_object":
        return {"type": "json_object", "schema": schema}
    return {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema, "strict": True},
    }


def estimate_tokens(text: str) -> int:
    """A conservative token count without a tokenizer: ``ceil(len(text) / 3)``."""
    return math.ceil(len(text) / _CHARS_PER_TOKEN_ESTIMATE)


class OpenAICompatibleGenerator:
    """Chat completions from an OpenAI-compatible server serving ``model`` at ``base_url``.

    ``base_url`` includes the API prefix, e.g. ``http://host:8000/v1``. ``context_window`` is
    what the server allows (vLLM's ``--max-model-len``); a different value reported by the
    server is logged at warm-up. ``http_client`` replaces the HTTP client for both the SDK and
    the tokenizer calls (tests pass one with an ``httpx.MockTransport``); the generator closes
    only a client it created itself.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        timeout_s: float = 120.0,
        max_retries: int = 2,
        context_window: int = 4096,
        structured_output: StructuredOutput = "json_schema",
        http_client: httpx.Client | None = None,
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._root = self._base_url.removesuffix("/v1")
        self._model = model
        self._api_key = api_key
        self._timeout_s = timeout_s
        self._max_retries = max_retries
        self._window = context_window
        self._structured_output: StructuredOutput = structured_output
        self._http = http_client
        self._owns_http = http_client is None
        self._client: openai.OpenAI | None = None
        self._verified = False
        self._tokenizer: _Tokenizer | None = None
        self._special_overhead = 0

    @property
    def context_window(self) -> int:
        """The most tokens prompt plus answer may hold on the server."""
        return self._window

    @property
    def model(self) -> str:
        """The model name requested from the server."""
        return self._model

    def warm_up(self) -> None:
        """Connect and check that the server answers and serves ``model``."""
        client = self._openai()
        try:
            served = list(client.models.list())
        except openai.NotFoundError:
            _log.warning(
                "server has no /models endpoint; model name not verified",
                extra=fields(base_url=self._base_url, model=self._model),
            )
            self._verified = True
            return
        except openai.OpenAIError as e:
            self._raise(e, "listing models")
        names = [m.id for m in served]
        entry = next((m for m in served if m.id == self._model), None)
        if entry is None:
            raise GenerationError(
                f"{self._base_url} does not serve model {self._model!r} (it serves {names})",
                retryable=False,
            )
        server_window = getattr(entry, "max_model_len", None)
        if isinstance(server_window, int) and server_window != self._window:
            _log.warning(
                "context window differs from the server's max_model_len",
                extra=fields(model=self._model, configured=self._window, server=server_window),
            )
        self._verified = True

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Run ``request`` to completion (one HTTP call, plus the SDK's retries)."""
        client = self._ready()
        started = time.perf_counter()
        response: ChatCompletion = self._call(
            lambda: client.chat.completions.create(**self._params(request)), "generating"
        )
        total = time.perf_counter() - started
        choice = response.choices[0] if response.choices else None
        if choice is None:
            raise GenerationError(f"{self._base_url} returned no choices", retryable=True)
        usage = response.usage
        return GenerationResult(
            text=choice.message.content or "",
            finish_reason=finish_reason(choice.finish_reason),
            prompt_tokens=usage.prompt_tokens if usage else 0,
            completion_tokens=usage.completion_tokens if usage else 0,
            timings=GenerationTimings(total_s=total),
            model=response.model,
        )

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Run ``request``, yielding content deltas as the server sends them."""
        client = self._ready()
        chunks = self._call(
            lambda: client.chat.completions.create(**self._params(request), stream=True),
            "starting a stream",
        )
        with chunks:
            iterator = iter(chunks)
            while True:
                try:
                    chunk = next(iterator)
                except StopIteration:
                    return
                except openai.OpenAIError as e:
                    self._raise(e, "streaming")
                for choice in chunk.choices:
                    if choice.delta.content:
                        yield choice.delta.content

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the server's tokenizer, without special tokens.

        Falls back to ``estimate_tokens`` (with one warning) when the server exposes no
        tokenizer endpoint.
        """
        if not text:
            return 0
        if self._tokenizer is None:
            self._tokenizer = self._detect_tokenizer()
        if self._tokenizer == "vllm":
            return self._count_vllm(text)
        if self._tokenizer == "llama_cpp":
            return max(0, self._count_llama_cpp(text) - self._special_overhead)
        return estimate_tokens(text)

    def close(self) -> None:
        """Release the HTTP connections (only those of a client this generator created)."""
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._http is not None and self._owns_http:
            self._http.close()
            self._http = None

    # -- internals -------------------------------------------------------------------------

    def _openai(self) -> openai.OpenAI:
        if self._client is None:
            self._client = openai.OpenAI(
                base_url=self._base_url,
                api_key=self._api_key or _NO_KEY,
                timeout=self._timeout_s,
                max_retries=self._max_retries,
                http_client=None if self._owns_http else self._http,
            )
        return self._client

    def _ready(self) -> openai.OpenAI:
        if not self._verified:
            self.warm_up()
        return self._openai()

    def _params(self, request: GenerationRequest) -> dict[str, Any]:
        params: dict[str, Any] = {
            "model": self._model,
            "messages": [_message(m) for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
        }
        if request.stop:
            params["stop"] = list(request.stop)
        if request.json_schema is not None:
            schema = cast(dict[str, Any], request.json_schema)
            fmt = response_format(schema, self._structured_output)
            params["response_format"] = cast(ResponseFormat, fmt)
        return params

    def _call(self, call: Callable[[], _T], action: str) -> _T:
        try:
            return call()
        except openai.OpenAIError as e:
            self._raise(e, action)

    def _raise(self, error: openai.OpenAIError, action: str) -> NoReturn:
        where = f"{self._base_url} (model {self._model!r})"
        retryable = False
        if isinstance(error, openai.APITimeoutError):
            detail, retryable = f"timed out after {self._timeout_s:g} s", True
        elif isinstance(error, openai.APIConnectionError):
            detail, retryable = f"cannot connect: {error.__cause__ or error}", True
        elif isinstance(error, openai.APIStatusError):
            status = error.status_code
            retryable = _retryable(status)
            detail = f"HTTP {status}: {_server_message(error)}"
            if status in (401, 403):
                detail += " (check the API key)"
        else:
            detail = f"{type(error).__name__}: {error}"
        raise GenerationError(f"{action} failed at {where}: {detail}", retryable=retryable) from (
            error
        )

    def _tokenize_http(self) -> httpx.Client:
        if self._http is None:
            self._http = httpx.Client(timeout=self._timeout_s)
        return self._http

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response | None:
        """POST to the server root; ``None`` when the endpoint does not exist there."""
        headers = {"Authorization": f"Bearer {self._api_key}"} if self._api_key else {}
        try:
            response = self._tokenize_http().post(self._root + path, json=body, headers=headers)
        except httpx.TimeoutException as e:
            raise GenerationError(
                f"tokenizing at {self._root}{path} timed out", retryable=True
            ) from e
        except httpx.HTTPError as e:
            raise GenerationError(
                f"tokenizing at {self._root}{path} failed: {e}", retryable=True
            ) from e
        if response.status_code in (404, 405):
            return None
        if response.status_code >= 400:
            raise GenerationError(
                f"tokenizing at {self._root}{path} failed: HTTP {response.status_code}: "
                f"{response.text[:200]}",
                retryable=_retryable(response.status_code),
            )
        return response

    def _count_vllm(self, text: str) -> int:
        body = {"model": self._model, "prompt": text, "add_special_tokens": False}
        response = self._post("/tokenize", body)
        if response is None:
            raise GenerationError(f"{self._root}/tokenize disappeared", retryable=True)
        data = response.json()
        count = data.get("count")
        return int(count) if isinstance(count, int) else len(data["tokens"])

    def _count_llama_cpp(self, text: str) -> int:
        response = self._post("/extras/tokenize", {"input": text})
        if response is None:
            raise GenerationError(f"{self._root}/extras/tokenize disappeared", retryable=True)
        return len(response.json()["tokens"])

    def _detect_tokenizer(self) -> _Tokenizer:
        probe = "Hello"
        body = {"model": self._model, "prompt": probe, "add_special_tokens": False}
        if self._post("/tokenize", body) is not None:
            return "vllm"
        if self._post("/extras/tokenize", {"input": probe}) is not None:
            # llama.cpp's endpoint adds the model's BOS (if it has one): count it once.
            self._special_overhead = self._count_llama_cpp("")
            return "llama_cpp"
        _log.warning(
            "server exposes no tokenizer; estimating one token per 3 characters",
            extra=fields(base_url=self._base_url, model=self._model),
        )
        return "estimate"


def _retryable(status: int) -> bool:
    """Whether an HTTP status may go away on a later try (the ones the SDK retries)."""
    return status in _RETRYABLE_STATUS or status >= 500


def _message(message: ChatMessage) -> ChatCompletionMessageParam:
    return cast(
        ChatCompletionMessageParam, {"role": message.role.value, "content": message.content}
    )


def _server_message(error: openai.APIStatusError) -> str:
    """The server's own error text: OpenAI's ``{"error": {"message"}}``, vLLM's or FastAPI's."""
    body = error.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict):
            message = inner.get("message") or inner.get("detail")
            if message:
                return str(message)
        elif isinstance(inner, str):
            return inner
    return error.message
