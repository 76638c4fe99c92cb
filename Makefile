# The two commands the README promises:
#   make demo   set up, ingest the sample corpus, show the result
#   make test   set up, run the whole test suite (lint, types, layers, tests)
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# A prebuilt-wheel cache may sit beside the checkout (../shared/wheels); pip uses it if present.
WHEELS := $(wildcard ../shared/wheels)
PIP_FLAGS := $(if $(WHEELS),--find-links $(WHEELS),)
export DO_NOT_TRACK := 1
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export UNSTRUCTURED_DISABLE_NOTICE := 1
# llama-cpp-python is source-only on PyPI. Built from source, it must be portable: a
# -march=native build (its default) died with "Illegal instruction" on this VM (AMX/AVX-512
# advertised by the CPU flags), and the machine type changes between runs. So the source build
# compiles every x86 CPU variant (x64 … haswell, skylakex, zen4, sapphirerapids/AMX) as a module
# and llama.cpp picks the best one for the CPU it runs on (generation/llama_backends.py loads
# them); CMAKE_INSTALL_BINDIR puts those modules in the package's lib dir, where they are looked
# for. Multimodal (mtmd) is not built: Citewise runs text models only. The wheel in
# ../shared/wheels is the older static build (-DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON).
export CMAKE_ARGS ?= -DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON -DGGML_CPU_ALL_VARIANTS=ON -DCMAKE_INSTALL_BINDIR=llama_cpp/lib -DLLAVA_BUILD=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF

.PHONY: install demo test lint bench lock clean

$(BIN)/.installed: requirements/lock.txt pyproject.toml vendor/en_core_web_sm/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# The lock is a complete, resolved set: --no-deps installs exactly it, nothing more.
	$(BIN)/pip install -q --no-deps $(PIP_FLAGS) -r requirements/lock.txt
	$(BIN)/pip install -q --no-deps ./vendor/en_core_web_sm -e .
	touch $@

install: $(BIN)/.installed

demo: install
	rm -rf .citewise-demo
	CITEWISE_DATA_DIR=.citewise-demo $(BIN)/citewise ingest samples/corpus --acl samples/acl.yaml
	@echo "--- run again: nothing changed, nothing is re-embedded"
	CITEWISE_DATA_DIR=.citewise-demo $(BIN)/citewise ingest samples/corpus --acl samples/acl.yaml
	CITEWISE_DATA_DIR=.citewise-demo $(BIN)/citewise docs list
	@echo "--- ask: answers cite their sources [n]; each cited sentence is checked against them"
	CITEWISE_DATA_DIR=.citewise-demo $(BIN)/citewise ask --stream "How much paid vacation do employees accrue?"
	CITEWISE_DATA_DIR=.citewise-demo $(BIN)/citewise ask --stream "How much are meals reimbursed while travelling?"
	@echo "--- not in the documents: the answer says so and lists the closest sources"
	CITEWISE_DATA_DIR=.citewise-demo $(BIN)/citewise ask --stream "What is the parking fee at the Berlin office?"
	@echo "--- restricted: HR-only salary bands, asked by an employee, then by HR"
	CITEWISE_DATA_DIR=.citewise-demo $(BIN)/citewise ask "What is the salary band for an L3 Software Engineer?"
	CITEWISE_DATA_DIR=.citewise-demo $(BIN)/citewise ask --groups hr "What is the salary band for an L3 Software Engineer?"
	@echo "--- the web app: sign in with one of these keys (each is shown only this once)"
	@export CITEWISE_DATA_DIR=.citewise-demo; \
	employee=$$($(BIN)/citewise keys create --user demo-employee --name demo 2>/dev/null | tail -n 1); \
	admin=$$($(BIN)/citewise keys create --user demo-admin --groups admins --name demo 2>/dev/null | tail -n 1); \
	echo "    start it:      CITEWISE_DATA_DIR=.citewise-demo $(BIN)/citewise serve"; \
	echo "    then open:     http://127.0.0.1:8000/"; \
	echo "    employee key:  $$employee"; \
	echo "    admin key:     $$admin   (an admin also manages Documents)"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports

test: lint
	$(BIN)/pytest -q

bench: install
	$(BIN)/python bench/ingest_throughput.py

lock:
	{ head -2 requirements/lock.txt; $(BIN)/pip freeze --exclude-editable \
	  | grep -v -i -E '^(en_core_web_sm|citewise)[=@ ]' \
	  | sed 's/^torch==2.13.0+cpu/torch==2.13.0/' \
	  | sed -E 's#^([A-Za-z0-9_.-]+) @ file://.*/[^/]+-([0-9][^-/]*)-py3-.*#\1==\2#'; \
	} > requirements/lock.new
	mv requirements/lock.new requirements/lock.txt

clean:
	rm -rf $(VENV) .citewise .citewise-demo
