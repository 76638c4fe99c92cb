"""The backend loader (generation/llama_backends.py) with the installed llama-cpp-python.

A statically linked build (the wheel in ../shared/wheels) must be left as it is. A
``GGML_BACKEND_DL=ON GGML_CPU_ALL_VARIANTS=ON`` build (the Makefile's source build) cannot
load a model without the loader, and with it runs the best CPU variant for this machine. Run
them on such a build from this venv with ``LLAMA_CPP_LIB_PATH=<its llama_cpp/lib>``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from generation.answer_types import ChatMessage, GenerationRequest, Role
from generation.llama_backends import ensure_backends
from generation.llama_cpp_generator import LlamaCppGenerator

pytestmark = [pytest.mark.model, pytest.mark.slow]

REQUEST = GenerationRequest(
    messages=(ChatMessage(role=Role.USER, content="Name a colour."),), max_tokens=8
)


def lib_dir() -> Path:
    """The libraries llama_cpp loads (``LLAMA_CPP_LIB_PATH`` runs this venv on another build)."""
    llama_cpp = pytest.importorskip("llama_cpp")
    return Path(os.environ.get("LLAMA_CPP_LIB_PATH") or Path(llama_cpp.__file__).parent / "lib")


def is_dl_build(lib: Path) -> bool:
    return any(lib.glob("libggml-cpu-*.so"))


def test_a_static_build_is_left_as_it_is(small_gguf: Path) -> None:
    lib = lib_dir()
    if is_dl_build(lib):
        pytest.skip(f"{lib} holds libggml-cpu-*.so modules: a GGML_BACKEND_DL build")

    result = LlamaCppGenerator(small_gguf, context_window=512, reuse_prefix=False).generate(REQUEST)

    backends = ensure_backends(lib)
    assert not backends.loaded
    assert backends.cpu_library.startswith("libggml-cpu.so")
    assert result.text


def test_a_dl_build_needs_the_loader(small_gguf: Path) -> None:
    lib = lib_dir()
    if not is_dl_build(lib):
        pytest.skip(f"llama-cpp-python in {lib} is statically linked: not a GGML_BACKEND_DL build")
    code = "import sys, llama_cpp; llama_cpp.Llama(model_path=sys.argv[1], verbose=False)"

    bare = subprocess.run(
        [sys.executable, "-c", code, str(small_gguf)], check=False, capture_output=True, text=True
    )

    assert bare.returncode != 0, "a DL build loaded a model with no backend: the loader is moot"


def test_a_dl_build_runs_the_best_cpu_variant(small_gguf: Path) -> None:
    lib = lib_dir()
    if not is_dl_build(lib):
        pytest.skip(f"llama-cpp-python in {lib} is statically linked: not a GGML_BACKEND_DL build")

    result = LlamaCppGenerator(small_gguf, context_window=512, reuse_prefix=False).generate(REQUEST)

    backends = ensure_backends(lib)
    assert backends.loaded
    assert backends.cpu_library.startswith("libggml-cpu-")
    cpu_flags = Path("/proc/cpuinfo").read_text().split()
    if "avx2" in cpu_flags and "fma" in cpu_flags:
        assert {"AVX2", "FMA"} <= set(backends.cpu_features)
    if "avx512f" not in cpu_flags:
        assert "AVX512" not in backends.cpu_features  # it would die with SIGILL
    assert result.text


def test_a_dl_build_reads_a_long_prompt_without_the_amx_variant(small_gguf: Path) -> None:
    """On a CPU with AMX, ggml would pick ``sapphirerapids``, whose AMX kernels die with
    SIGILL on the first prompt long enough to use them; the loader skips that variant. The
    prompt is read in a child process, so a crash fails this test rather than the run."""
    lib = lib_dir()
    if not is_dl_build(lib):
        pytest.skip(f"llama-cpp-python in {lib} is statically linked: not a GGML_BACKEND_DL build")
    code = (
        "import sys\nfrom pathlib import Path\n"
        "from generation.answer_types import ChatMessage, GenerationRequest, Role\n"
        "from generation.llama_backends import ensure_backends\n"
        "from generation.llama_cpp_generator import LlamaCppGenerator\n"
        "text = ' '.join(['Employees accrue paid leave every month they work.'] * 40)\n"
        "request = GenerationRequest(messages=(ChatMessage(role=Role.USER, content=text),),"
        " max_tokens=4)\n"
        "result = LlamaCppGenerator(Path(sys.argv[1]), context_window=1024,"
        " reuse_prefix=False).generate(request)\n"
        "print(ensure_backends(Path(sys.argv[2])).cpu_library, result.prompt_tokens)\n"
    )

    done = subprocess.run(
        [sys.executable, "-c", code, str(small_gguf), str(lib)],
        check=False,
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[2],
    )

    assert done.returncode == 0, done.stderr[-2000:]
    library, prompt_tokens = done.stdout.split()[-2:]
    assert "sapphirerapids" not in library
    assert int(prompt_tokens) > 300
