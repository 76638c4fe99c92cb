"""The backend loader's logic, on a fake ggml (the ctypes side is in the integration test)."""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import pytest

from generation import llama_backends
from generation.errors import GenerationError
from generation.llama_backends import Backends, ensure_backends

REPO = Path(__file__).resolve().parents[3]
LIB = Path("/site-packages/llama_cpp/lib")
HASWELL = ("SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2")


class FakeGgml:
    """A ggml whose CPU backend is either linked in (static) or a module that may load."""

    def __init__(self, *, static: bool, loadable: bool = True) -> None:
        self.registered = static
        self.static = static
        self.loadable = loadable
        self.loads: list[Path] = []

    def has_cpu(self) -> bool:
        return self.registered

    def load_all(self, directory: Path) -> None:
        self.loads.append(directory)
        self.registered = self.loadable

    def cpu(self) -> tuple[str, tuple[str, ...]]:
        return ("libggml-cpu.so.0" if self.static else "libggml-cpu-haswell.so"), HASWELL


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_backends, "_kept", [])


def test_a_static_build_loads_nothing() -> None:
    ggml = FakeGgml(static=True)

    backends = ensure_backends(LIB, ggml)

    assert ggml.loads == []
    assert backends == Backends(False, "libggml-cpu.so.0", HASWELL)


def test_a_dl_build_loads_the_best_modules_from_the_package_lib_dir() -> None:
    ggml = FakeGgml(static=False)

    backends = ensure_backends(LIB, ggml)

    assert ggml.loads == [LIB]
    assert backends == Backends(True, "libggml-cpu-haswell.so", HASWELL)


def test_it_loads_once_and_keeps_the_answer() -> None:
    ggml = FakeGgml(static=False)

    first = ensure_backends(LIB, ggml)
    second = ensure_backends(LIB, FakeGgml(static=False))

    assert second is first
    assert ggml.loads == [LIB]


def test_threads_racing_to_the_first_model_load_once() -> None:
    ggml = FakeGgml(static=False)
    results: list[Backends] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_backends(LIB, ggml)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert ggml.loads == [LIB]
    assert len(results) == 8
    assert all(r is results[0] for r in results)


def test_no_loadable_cpu_module_is_a_clear_error_and_a_later_call_tries_again() -> None:
    with pytest.raises(GenerationError, match=r"no CPU backend.*libggml-cpu\*\.so"):
        ensure_backends(LIB, FakeGgml(static=False, loadable=False))

    assert ensure_backends(LIB, FakeGgml(static=False)).loaded


def test_importing_the_module_loads_nothing() -> None:
    code = "import sys, generation.llama_backends; assert 'llama_cpp' not in sys.modules"

    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
