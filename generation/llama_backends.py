"""llama.cpp's compute backends, loaded once before the first model when the build needs it.

A llama.cpp built with ``GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON`` ships every x86 CPU
variant as a module (``libggml-cpu-haswell.so``, ``-skylakex``, ``-sapphirerapids``, …) and
registers none of them by itself. llama-cpp-python never asks for them, so ``Llama`` fails
with "no backends are loaded". ``ensure_backends`` has ggml load, from the package's lib
directory, the best module of each kind: the CPU variant that scores highest on this CPU. A
statically linked build already holds its CPU backend, and then nothing is loaded.
"""

from __future__ import annotations

import logging
import os
import threading
from ctypes import CDLL, CFUNCTYPE, POINTER, Structure, byref, c_char_p, c_void_p
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from generation.errors import GenerationError

_log = logging.getLogger(__name__)
_lock = threading.Lock()
_kept: list[Backends] = []  # the first success, for every later call


@dataclass(frozen=True)
class Backends:
    """The CPU backend in use: ``loaded`` when ``ensure_backends`` loaded it from a module."""

    loaded: bool
    cpu_library: str  # the file holding the CPU backend, e.g. libggml-cpu-haswell.so
    cpu_features: tuple[str, ...]  # what that code was compiled for, e.g. AVX2, AVX512, AMX_INT8


class Ggml(Protocol):
    """The ggml calls ``ensure_backends`` makes; ``CtypesGgml`` documents them."""

    def has_cpu(self) -> bool: ...  # noqa: D102
    def load_all(self, directory: Path) -> None: ...  # noqa: D102
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
            ("ggml_backend_load_all_from_path", [c_char_p], None),
        ):
            getattr(self._lib, function).argtypes = argtypes
            getattr(self._lib, function).restype = restype

    def has_cpu(self) -> bool:
        """Whether a CPU backend is registered."""
        return bool(self._lib.ggml_backend_reg_by_name(b"CPU"))

    def load_all(self, directory: Path) -> None:
        """``ggml_backend_load_all_from_path``: the best module of each kind in ``directory``."""
        self._lib.ggml_backend_load_all_from_path(os.fsencode(directory))

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
                ggml.load_all(lib_dir)
                if not ggml.has_cpu():
                    raise GenerationError(
                        f"llama.cpp has no CPU backend: none of {lib_dir}/libggml-cpu*.so "
                        "loads on this CPU (a llama-cpp-python built without them?)"
                    )
            library, features = ggml.cpu()
            _kept.append(Backends(loaded, library, features))
            _log.info(
                "llama.cpp CPU backend",
                extra={"library": library, "features": " ".join(features), "loaded": loaded},
            )
        return _kept[0]
