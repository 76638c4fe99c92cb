"""llama.cpp's compute backends, loaded once before the first model when the build needs it.

A llama.cpp built with ``GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON`` ships every x86 CPU
variant as a module (``libggml-cpu-haswell.so``, ``-skylakex``, ``-sapphirerapids``, …) and
registers none of them by itself. llama-cpp-python never asks for them, so ``Llama`` fails
with "no backends are loaded". ``ensure_backends`` loads, from the package's lib directory,
the CPU variant that scores highest on this CPU (each module's own ``ggml_backend_score``,
as ggml's ``ggml_backend_load_best`` does), except the variants in ``UNSAFE_VARIANTS``. A
statically linked build already holds its CPU backend, and then nothing is loaded.

Why not ``ggml_backend_load_all_from_path``: it picks ``sapphirerapids`` on a CPU with AMX,
and the AMX matrix kernels of the llama.cpp in llama-cpp-python 0.3.36 die with SIGILL on
their first tile instruction (``tilezero``: the tile configuration they load is not in
effect on the worker threads; ggml-org/llama.cpp#26954). Seen on an Intel Xeon with AMX,
where a plain C program's tiles work: the whole process dies on the first prompt. The best of
the other variants (there ``zen4``: AVX-512 with VNNI and BF16) runs fine.
"""

from __future__ import annotations

import _ctypes
import logging
import os
import threading
from ctypes import CDLL, CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_int, c_void_p
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from generation.errors import GenerationError

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_kept: list[Backends] = []  # the first success, for every later call

UNSAFE_VARIANTS = {
    "sapphirerapids": "its AMX kernels die with SIGILL (ggml-org/llama.cpp#26954)",
}
"""CPU variants never loaded, with the reason (see the module docstring)."""


@dataclass(frozen=True)
class Backends:
    """The CPU backend in use: ``loaded`` when ``ensure_backends`` loaded it from a module."""

    loaded: bool
    cpu_library: str  # the file holding the CPU backend, e.g. libggml-cpu-haswell.so
    cpu_features: tuple[str, ...]  # what that code was compiled for, e.g. AVX2, AVX512, AMX_INT8


class Ggml(Protocol):
    """The ggml calls ``ensure_backends`` makes; ``CtypesGgml`` documents them."""

    def has_cpu(self) -> bool: ...  # noqa: D102
    def score(self, module: Path) -> int: ...  # noqa: D102
    def load(self, module: Path) -> bool: ...  # noqa: D102
    def cpu(self) -> tuple[str, tuple[str, ...]]: ...  # noqa: D102


class _Feature(Structure):
    _fields_ = (("name", c_char_p), ("value", c_char_p))


class _DlInfo(Structure):
    _fields_ = (("fname", c_char_p), ("fbase", c_void_p), ("sname", c_char_p), ("saddr", c_void_p))


class CtypesGgml:
    """The ggml that libllama uses, through ctypes; llama_cpp must be imported first.

    libllama links libggml by its soname (``libggml.so.0``). A wheel holds copies, not links,
    of ``libggml.so*``, and opening another copy by path would load a second ggml with a
    registry of its own, so the library is only looked up among those already loaded.
    """

    def __init__(self, lib_dir: Path) -> None:
        for name in sorted((p.name for p in lib_dir.glob("libggml.so.*")), key=len):
            try:
                self._lib = CDLL(name, mode=os.RTLD_NOLOAD | os.RTLD_NOW)
                break
            except OSError:
                continue
        else:
            raise GenerationError(f"llama.cpp's libggml from {lib_dir} is not loaded")
        for function, argtypes, restype in (
            ("ggml_backend_reg_by_name", [c_char_p], c_void_p),
            ("ggml_backend_reg_get_proc_address", [c_void_p, c_char_p], c_void_p),
            ("ggml_backend_load", [c_char_p], c_void_p),
        ):
            getattr(self._lib, function).argtypes = argtypes
            getattr(self._lib, function).restype = restype

    def has_cpu(self) -> bool:
        """Whether a CPU backend is registered."""
        return bool(self._lib.ggml_backend_reg_by_name(b"CPU"))

    def score(self, module: Path) -> int:
        """The module's ``ggml_backend_score()``: 0 when this CPU lacks what it was built for,
        else higher for a better fit. The module is opened only to ask, then closed."""
        try:
            library = CDLL(os.fspath(module), mode=os.RTLD_LOCAL | os.RTLD_NOW)
        except OSError:
            return 0
        try:
            function = getattr(library, "ggml_backend_score", None)
            if function is None:
                return 0
            function.restype = c_int
            return int(function())
        finally:
            _dlclose(library._handle)

    def load(self, module: Path) -> bool:
        """``ggml_backend_load``: register the backend in ``module``."""
        return bool(self._lib.ggml_backend_load(os.fsencode(module)))

    def cpu(self) -> tuple[str, tuple[str, ...]]:
        """The registered CPU backend's library file name (by ``dladdr``) and features."""
        reg = self._lib.ggml_backend_reg_by_name(b"CPU")
        address = self._lib.ggml_backend_reg_get_proc_address(reg, b"ggml_backend_get_features")
        if not reg or not address:
            return "", ()
        info = _DlInfo()
        found = CDLL(None).dladdr(c_void_p(address), byref(info))
        library = Path(os.fsdecode(info.fname)).name if found and info.fname else ""
        features = CFUNCTYPE(POINTER(_Feature), c_void_p)(address)(reg)
        names: list[str] = []
        while features[len(names)].name:
            names.append(features[len(names)].name.decode())
        return library, tuple(names)


def ensure_backends(lib_dir: Path, ggml: Ggml | None = None) -> Backends:
    """Load llama.cpp's backend modules from ``lib_dir`` unless a CPU backend is registered.

    Thread-safe; the first success is kept and logged once, later calls return it. Raises
    ``GenerationError`` when no CPU backend can be had.
    """
    with _lock:
        if not _kept:
            ggml = ggml if ggml is not None else CtypesGgml(lib_dir)
            loaded = not ggml.has_cpu()
            if loaded:
                _load_best_cpu(ggml, lib_dir)
            library, features = ggml.cpu()
            _kept.append(Backends(loaded, library, features))
            _log.info(
                "llama.cpp CPU backend",
                extra={"library": library, "features": " ".join(features), "loaded": loaded},
            )
        return _kept[0]


def variant_name(module: Path) -> str:
    """``haswell`` for ``libggml-cpu-haswell.so``."""
    return module.name.removeprefix("libggml-cpu-").removesuffix(".so")


def _load_best_cpu(ggml: Ggml, lib_dir: Path) -> None:
    """Register the best-scoring safe CPU variant in ``lib_dir`` (ties: the first by name)."""
    scores: dict[Path, int] = {}
    for module in sorted(lib_dir.glob("libggml-cpu-*.so")):
        reason = UNSAFE_VARIANTS.get(variant_name(module))
        if reason is not None:
            _log.info(
                "llama.cpp CPU variant skipped", extra={"library": module.name, "why": reason}
            )
            continue
        scores[module] = ggml.score(module)
    usable = [m for m in scores if scores[m] > 0]
    best = max(usable, key=lambda m: scores[m], default=None)
    if best is None or not ggml.load(best) or not ggml.has_cpu():
        raise GenerationError(
            f"llama.cpp has no CPU backend: none of {lib_dir}/libggml-cpu-*.so loads on this CPU "
            "(a llama-cpp-python built without them?)"
        )


def _dlclose(handle: int) -> None:
    """Close a library ``CDLL`` opened (ctypes has no public way to)."""
    _ctypes.dlclose(handle)
