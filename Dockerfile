# Citewise, CPU image: the exact locked dependency set the Makefile installs, run as a
# non-root user. One image serves `citewise serve` (api) and `citewise ingest` (worker), see
# docker-compose.yml. No Docker engine runs on the development machines:
# tests/unit/test_deployment_files.py checks this file's essentials; it is not built there.

# --- build: the venv, with llama-cpp-python compiled from source (it has no wheel on PyPI)
FROM python:3.11-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends build-essential cmake \
    && rm -rf /var/lib/apt/lists/*
# Portable llama.cpp build, as the Makefile exports it: -march=native (the default) dies
# with "Illegal instruction" on CPUs other than the build machine's, so every x86 CPU
# variant is built as a module and llama.cpp picks the best one where the image runs
# (generation/llama_backends.py); the image then uses AVX-512 or AMX where the host has them.
ENV CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DCMAKE_INSTALL_BINDIR=llama_cpp/lib -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF" \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY requirements/lock.txt requirements/lock.txt
# The lock is a complete, resolved set: --no-deps installs exactly it, nothing more. The CPU
# index supplies torch 2.13.0+cpu (PyPI's torch 2.13.0 for Linux is the multi-GB CUDA build).
RUN pip install --no-cache-dir --upgrade pip \
    && pip install --no-cache-dir --no-deps -r requirements/lock.txt \
        --extra-index-url https://download.pytorch.org/whl/cpu
COPY pyproject.toml README.md ./
COPY vendor vendor
COPY core core
COPY store store
COPY retrieval retrieval
COPY ingest ingest
COPY generation generation
COPY evals evals
COPY api api
RUN pip install --no-cache-dir --no-deps ./vendor/en_core_web_sm .

# --- runtime
FROM python:3.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
        tesseract-ocr poppler-utils libmagic1 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /opt/venv /opt/venv
RUN useradd --create-home --uid 10001 citewise \
    && mkdir -p /data /home/citewise/.cache \
    && chown -R citewise:citewise /data /home/citewise/.cache
ENV PATH=/opt/venv/bin:$PATH \
    CITEWISE_DATA_DIR=/data \
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 DO_NOT_TRACK=1 UNSTRUCTURED_DISABLE_NOTICE=1 \
    PYTHONUNBUFFERED=1
USER citewise
WORKDIR /home/citewise
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=5s --start-period=300s --retries=5 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4)"]
CMD ["citewise", "serve", "--host", "0.0.0.0", "--port", "8000"]
