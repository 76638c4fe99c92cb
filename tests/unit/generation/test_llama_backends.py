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
HASWELL = ("SSE3", "SSSE3", "AVX", "AVX2", "F16C", "FMA", "BMI2")
# What ggml's own scoring gives on an AVX-512 CPU with AMX (0: the CPU lacks something).
SCORES = {"x64": 1, "haswell": 40, "skylakex": 60, "icelake": 70, "sapphirerapids": 90}


class FakeGgml:
    """A ggml whose CPU backend is either linked in (static) or a module that may load."""

    def __init__(self, *, static: bool, loadable: bool = True) -> None:
        self.registered: str | None = "libggml-cpu.so.0" if static else None
        self.loadable = loadable
        self.scored: list[str] = []
        self.loads: list[str] = []

    def has_cpu(self) -> bool:
        return self.registered is not None

    def score(self, module: Path) -> int:
        self.scored.append(module.name)
        return SCORES.get(llama_backends.variant_name(module), 0)

    def load(self, module: Path) -> bool:
        self.loads.append(module.name)
        if self.loadable:
            self.registered = module.name
        return self.loadable

    def cpu(self) -> tuple[str, tuple[str, ...]]:
        return self.registered or "", HASWELL


@pytest.fixture(autouse=True)
def fresh(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(llama_backends, "_kept", [])


@pytest.fixture
def lib(tmp_path: Path) -> Path:
    """A DL build's lib dir: one module per variant, plus libraries that are not variants."""
    for name in [*SCORES, "zen9000"]:
        (tmp_path / f"libggml-cpu-{name}.so").touch()
    for other in ("libggml.so.0", "libggml-base.so", "libllama.so"):
        (tmp_path / other).touch()
    return tmp_path


def test_a_static_build_loads_nothing(lib: Path) -> None:
    ggml = FakeGgml(static=True)

    backends = ensure_backends(lib, ggml)

    assert ggml.scored == ggml.loads == []
    assert backends == Backends(False, "libggml-cpu.so.0", HASWELL)


def test_a_dl_build_loads_the_best_scoring_safe_variant(lib: Path) -> None:
    ggml = FakeGgml(static=False)

    backends = ensure_backends(lib, ggml)

    assert ggml.loads == ["libggml-cpu-icelake.so"]
    assert backends == Backends(True, "libggml-cpu-icelake.so", HASWELL)


def test_the_amx_variant_is_never_loaded_nor_even_opened(lib: Path) -> None:
    ggml = FakeGgml(static=False)

    ensure_backends(lib, ggml)

    assert "libggml-cpu-sapphirerapids.so" not in ggml.scored
    assert sorted(ggml.scored) == sorted(
        f"libggml-cpu-{n}.so" for n in [*SCORES, "zen9000"] if n != "sapphirerapids"
    )


def test_it_loads_once_and_keeps_the_answer(lib: Path) -> None:
    ggml = FakeGgml(static=False)

    first = ensure_backends(lib, ggml)
    second = ensure_backends(lib, FakeGgml(static=False))

    assert second is first
    assert ggml.loads == ["libggml-cpu-icelake.so"]


def test_threads_racing_to_the_first_model_load_once(lib: Path) -> None:
    ggml = FakeGgml(static=False)
    results: list[Backends] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_backends(lib, ggml)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert ggml.loads == ["libggml-cpu-icelake.so"]
    assert len(results) == 8
    assert all(r is results[0] for r in results)


def test_no_loadable_cpu_module_is_a_clear_error_and_a_later_call_tries_again(
    lib: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    with pytest.raises(GenerationError, match=r"no CPU backend.*libggml-cpu-\*\.so"):
        ensure_backends(lib, FakeGgml(static=False, loadable=False))
    empty = tmp_path_factory.mktemp("empty")
    with pytest.raises(GenerationError, match="no CPU backend"):
        ensure_backends(empty, FakeGgml(static=False))

    assert ensure_backends(lib, FakeGgml(static=False)).loaded


def test_importing_the_module_loads_nothing() -> None:
    code = "import sys, generation.llama_backends; assert 'llama_cpp' not in sys.modules"

    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True)
