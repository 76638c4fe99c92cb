"""The embedded default ``Generator``: a GGUF model run in-process by llama.cpp.

llama-cpp-python's ``Llama`` is loaded lazily, once, and applies the chat template stored in
the GGUF. A ``Llama`` instance is not safe to use from two threads at once, so calls are
serialised by a lock (held for the whole of a stream). Its dict responses are translated to
our ``GenerationResult`` here and go no further.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generation.answer_types import (
    FinishReason,
    GenerationRequest,
    GenerationResult,
    GenerationTimings,
)
from generation.errors import GenerationError
from generation.llama_backends import ensure_backends
from generation.llama_prefix import PrefixStates
from generation.llama_prefix import identity as prefix_identity

if TYPE_CHECKING:
    from llama_cpp import Llama

_log = logging.getLogger(__name__)
_FINISH = {"stop": FinishReason.STOP, "length": FinishReason.LENGTH}


class LlamaCppGenerator:
    """A chat model from a ``.gguf`` file, run on this machine's CPU.

    ``threads`` defaults to every core: llama-cpp-python's own default is half of them, which
    halves generation speed on a small machine. ``seed`` makes sampling at temperature > 0
    repeatable; at temperature 0 decoding is greedy.

    ``reuse_prefix`` keeps the KV state of each system turn (``generation/llama_prefix.py``),
    so a request reads only what follows it; ``prefix_dir`` keeps those states on disk for the
    next process (each ``citewise ask`` is one).
    """

    def __init__(
        self,
        model_path: Path,
        *,
        context_window: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        reuse_prefix: bool = True,
        prefix_dir: Path | None = None,
    ) -> None:
        self._path = model_path
        self._n_ctx = context_window
        self._threads = threads or os.cpu_count() or 1
        self._seed = seed
        self._llama: Llama | None = None
        self._reuse_prefix = reuse_prefix
        self._prefix_dir = prefix_dir
        self._prefixes: PrefixStates | None = None
        self._lock = threading.RLock()

    @property
    def model_path(self) -> Path:
        """The GGUF file this generator runs."""
        return self._path

    @property
    def context_window(self) -> int:
        """``n_ctx``: the most tokens prompt plus answer may hold."""
        return self._n_ctx

    def warm_up(self) -> None:
        """Load the model now (about a second per GB from a warm page cache)."""
        self._model()

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` by the model's own tokenizer, without BOS or special tokens."""
        if not text:
            return 0
        with self._lock:
            return len(self._model().tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def generate(self, request: GenerationRequest) -> GenerationResult:
        """Run ``request`` to completion."""
        started = time.perf_counter()
        arguments = self._arguments(request)
        with self._lock:
            try:
                llama = self._prepared(arguments)
                response: Any = llama.create_chat_completion(**arguments)
                self._learn(llama, arguments)
            except (ValueError, RuntimeError) as e:
                raise GenerationError(f"llama.cpp failed: {e}") from e
        choice = response["choices"][0]
        usage = response.get("usage") or {}
        return GenerationResult(
            text=choice["message"].get("content") or "",
            finish_reason=_FINISH.get(choice.get("finish_reason") or "", FinishReason.OTHER),
            prompt_tokens=usage.get("prompt_tokens", 0),
            completion_tokens=usage.get("completion_tokens", 0),
            timings=GenerationTimings(total_s=time.perf_counter() - started),
            model=self._path.stem,
        )

    def stream(self, request: GenerationRequest) -> Iterator[str]:
        """Yield text deltas as llama.cpp decodes them."""
        arguments = self._arguments(request)
        with self._lock:
            try:
                llama = self._prepared(arguments)
                chunks: Any = llama.create_chat_completion(**arguments, stream=True)
                for chunk in chunks:
                    delta = chunk["choices"][0].get("delta", {}).get("content")
                    if delta:
                        yield delta
                self._learn(llama, arguments)
            except (ValueError, RuntimeError) as e:
                raise GenerationError(f"llama.cpp failed: {e}") from e

    def _arguments(self, request: GenerationRequest) -> dict[str, Any]:
        arguments: dict[str, Any] = {
            "messages": [{"role": m.role.value, "content": m.content} for m in request.messages],
            "max_tokens": request.max_tokens,
            "temperature": request.temperature,
            "stop": list(request.stop) or None,
            "seed": self._seed,
        }
        if request.json_schema is not None:
            # llama.cpp compiles the schema to a grammar that constrains decoding.
            arguments["response_format"] = {"type": "json_object", "schema": request.json_schema}
        return arguments

    def _prepared(self, arguments: dict[str, Any]) -> Llama:
        """The model, holding the KV state of the request's system turn when it is kept."""
        llama = self._model()
        if self._reuse_prefix:
            if self._prefixes is None:
                self._prefixes = PrefixStates(
                    prefix_identity(self._path, self._n_ctx), self._prefix_dir
                )
            self._prefixes.prepare(llama, arguments["messages"])
        return llama

    def _learn(self, llama: Llama, arguments: dict[str, Any]) -> None:
        if self._prefixes is not None:
            self._prefixes.learn(llama, arguments["messages"])

    def _model(self) -> Llama:
        with self._lock:
            if self._llama is None:
                self._llama = self._load()
            return self._llama

    def _load(self) -> Llama:
        from llama_cpp import Llama

        if not self._path.is_file():
            raise GenerationError(f"model file {self._path} does not exist")
        load_backends()
        started = time.perf_counter()
        try:
            llama = Llama(
                model_path=str(self._path),
                n_ctx=self._n_ctx,
                n_threads=self._threads,
                n_threads_batch=self._threads,
                seed=self._seed,
                verbose=False,
            )
        except (ValueError, RuntimeError) as e:
            raise GenerationError(f"llama.cpp could not load {self._path}: {e}") from e
        _log.info(
            "model loaded",
            extra={"model": self._path.name, "seconds": round(time.perf_counter() - started, 2)},
        )
        return llama


def load_backends() -> None:
    """Make llama.cpp's CPU backend available before a ``Llama`` is made (anywhere, also in
    benchmarks): a build with GGML_BACKEND_DL loads its CPU kernels at run time
    (``llama_backends``); a no-op for a statically linked build."""
    import llama_cpp

    ensure_backends(_lib_dir(llama_cpp.__file__))


def _lib_dir(package_file: str) -> Path:
    """Where llama-cpp-python loads its libraries from (``LLAMA_CPP_LIB_PATH`` overrides it)."""
    return Path(os.environ.get("LLAMA_CPP_LIB_PATH") or Path(package_file).parent / "lib")
