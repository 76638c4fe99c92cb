"""Reuse of a chat's fixed opening in llama.cpp: the KV state of the system turn, kept.

Every answer prompt opens with the same system turn (the rules, about 190 tokens for
``answer_v1``), then the sources and the question. llama-cpp-python already reuses the
longest token prefix that a request shares with the *previous* one in the same ``Llama``, so
a server answering question after question reads the rules once. What it does not cover:

- the first question of a process (every ``citewise ask`` is one), and
- a request after another prompt (condensing a follow-up, an LLM judge) took the KV cache.

For those, ``PrefixStates`` keeps, per system message, the state after reading the chat
template's opening up to the user turn (tokens plus llama.cpp's state bytes), in memory and,
given a directory, on disk for the next process. Before a request whose system message it
knows, it restores that state unless the ``Llama`` already holds that opening; llama.cpp's
own prefix match then reads only the rest. Restored or computed, the KV values of the prefix
are the ones a full read computes (the same kernels over the same tokens), so greedy answers
do not change (tests/integration/test_llama_prefix.py checks that).

The state is captured by a 1-token completion of ``[system, user ""]``: the chat handler
formats it exactly as it will format the real request, whatever the GGUF's template.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
import zipfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from llama_cpp import Llama

_log = logging.getLogger(__name__)
_FORMAT = 1
"""Bumped when the file layout changes: older files are then ignored."""


@dataclass
class _Prefix:
    tokens: list[int]
    state: bytes
    shared: int
    """How many leading tokens real requests share with ``tokens`` (the probe's own user
    turn and answer opening differ): learned after the first real request."""


class PrefixStates:
    """Per system message, the ``Llama`` state after the chat's opening; see the module doc.

    ``directory`` (optional) persists the states across processes; ``identity`` must change
    whenever the state bytes would not fit (another model file, ``n_ctx`` or llama.cpp).
    At most ``capacity`` system messages are kept in memory, the least recently used go.
    """

    def __init__(self, identity: str, directory: Path | None = None, capacity: int = 4) -> None:
        self._identity = identity
        self._directory = directory
        self._capacity = capacity
        self._prefixes: OrderedDict[str, _Prefix] = OrderedDict()

    def prepare(self, llama: Llama, messages: list[dict[str, Any]]) -> None:
        """Make ``llama`` hold the opening of ``messages`` (system turn first) before a
        completion, restoring or computing it; no-op without a system message."""
        if not messages or messages[0].get("role") != "system":
            return
        system = str(messages[0].get("content") or "")
        key = self._key(system)
        prefix = self._prefixes.get(key) or self._read(key)
        if prefix is None:
            try:
                self._remember(key, self._capture(llama, system, key))
            except (ValueError, RuntimeError) as e:  # an optimisation must not fail a request
                _log.warning("prompt prefix not kept", extra={"error": repr(e)})
                llama.n_tokens = 0  # the request then reads its whole prompt
            return
        self._remember(key, prefix)
        held = _common(llama.input_ids[: llama.n_tokens].tolist(), prefix.tokens)
        if held < prefix.shared:
            self._restore(llama, prefix)

    def learn(self, llama: Llama, messages: list[dict[str, Any]]) -> None:
        """After a completion: note how much of the kept opening the real prompt shared (the
        rest is the probe's own ending), so later requests restore only when needed."""
        if not messages or messages[0].get("role") != "system":
            return
        key = self._key(str(messages[0].get("content") or ""))
        prefix = self._prefixes.get(key)
        if prefix is None:
            return
        shared = _common(llama.input_ids[: llama.n_tokens].tolist(), prefix.tokens)
        if shared != prefix.shared and shared > 0:
            prefix.shared = shared
            self._write(key, prefix)

    def _key(self, system: str) -> str:
        blob = json.dumps([_FORMAT, self._identity, system]).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()[:32]

    def _remember(self, key: str, prefix: _Prefix) -> None:
        self._prefixes[key] = prefix
        self._prefixes.move_to_end(key)
        while len(self._prefixes) > self._capacity:
            self._prefixes.popitem(last=False)

    def _capture(self, llama: Llama, system: str, key: str) -> _Prefix:
        started = time.perf_counter()
        llama.create_chat_completion(
            messages=[{"role": "system", "content": system}, {"role": "user", "content": ""}],
            max_tokens=1,
            temperature=0.0,
        )
        tokens = llama.input_ids[: llama.n_tokens].tolist()
        prefix = _Prefix(tokens=tokens, state=_state_bytes(llama), shared=len(tokens))
        self._write(key, prefix)
        _log.info(
            "prompt prefix computed",
            extra={"tokens": len(tokens), "seconds": round(time.perf_counter() - started, 2)},
        )
        return prefix

    def _restore(self, llama: Llama, prefix: _Prefix) -> None:
        import ctypes

        import llama_cpp

        # Straight into the context, like Llama.load_state but without its copy of a logits
        # table: logits are not needed, since llama.cpp reads the request's suffix next and
        # samples from the logits of that read.
        n = len(prefix.tokens)
        buffer = (ctypes.c_uint8 * len(prefix.state)).from_buffer_copy(prefix.state)
        if llama_cpp.llama_state_set_data(llama.ctx, buffer, len(prefix.state)) != len(
            prefix.state
        ):  # a foreign or damaged state: read the prompt in full
            _log.warning("prompt prefix state rejected")
            llama.n_tokens = 0  # what Llama.reset does: the next request reads everything
            return
        llama.input_ids[:n] = prefix.tokens
        llama.n_tokens = n

    def _path(self, key: str) -> Path | None:
        return None if self._directory is None else self._directory / f"{key}.npz"

    def _read(self, key: str) -> _Prefix | None:
        path = self._path(key)
        if path is None or not path.is_file():
            return None
        try:
            with np.load(path) as data:
                return _Prefix(
                    tokens=data["tokens"].tolist(),
                    state=data["state"].tobytes(),
                    shared=int(data["shared"]),
                )
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
            _log.warning("prompt prefix unreadable", extra={"path": str(path), "error": str(e)})
            return None

    def _write(self, key: str, prefix: _Prefix) -> None:
        path = self._path(key)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Atomic: a concurrent reader sees the old file or the new one, never half.
            with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as f:
                np.savez(
                    f,
                    tokens=np.asarray(prefix.tokens, dtype=np.int32),
                    state=np.frombuffer(prefix.state, dtype=np.uint8),
                    shared=np.asarray(prefix.shared),
                )
            os.replace(f.name, path)
        except OSError as e:  # a read-only cache only costs the next process the prefix
            _log.warning("prompt prefix not saved", extra={"path": str(path), "error": str(e)})


def _state_bytes(llama: Llama) -> bytes:
    """llama.cpp's context state (the KV cells in use), without ``Llama.save_state``'s copy of
    the logits table (hundreds of MB at a 150k vocabulary)."""
    import ctypes

    import llama_cpp

    size = llama_cpp.llama_state_get_size(llama.ctx)
    buffer = (ctypes.c_uint8 * size)()
    written = llama_cpp.llama_state_get_data(llama.ctx, buffer, size)
    return bytes(buffer)[:written]


def _common(a: list[int], b: list[int]) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def identity(model_path: Path, n_ctx: int) -> str:
    """What a saved state depends on: the model file, ``n_ctx`` and the llama.cpp build."""
    import llama_cpp

    stat = model_path.stat()
    return f"{model_path.name}:{stat.st_size}:{stat.st_mtime_ns}:{n_ctx}:{llama_cpp.__version__}"
