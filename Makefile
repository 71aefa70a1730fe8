# glint: the two commands people need are `make serve` and `make test`.
# Everything they depend on (Debian packages, the test virtualenv, the models,
# the build) is set up on the way.

SHELL := /bin/bash
JOBS ?= $(shell nproc)
BUILD ?= build/release
ASAN_BUILD ?= build/asan
TSAN_BUILD ?= build/tsan
VENV := .venv
PY := $(VENV)/bin/python
GLINT := $(BUILD)/glint
PROMPT ?= Write a Python function that returns the n-th Fibonacci number, with a docstring.

.PHONY: all setup deps venv models models-fast build serve run test test-unit test-e2e \
        test-asan test-tsan bench fuzz clean

all: build

deps:
	@scripts/install-deps

$(BUILD)/build.ninja: CMakeLists.txt | deps
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/build.ninja
	ninja -C $(BUILD) -j $(JOBS)

# The reference peer is compiled from source for this machine (-march=native)
# but without llama.cpp's AMX kernels: on the Sapphire Rapids VMs the project
# runs on, its AMX matrix product crashes (SIGSEGV in ggml_backend_amx_mul_mat
# on the fast model's first llama_decode), so the reference runs its AVX-512
# and VNNI kernels there. The flags are not part of pip's cache key, so the
# built wheel is cached under a directory named for them (REF_BUILD: rename
# it when the flags change); a rebuild of the venv reuses that wheel.
REF_BUILD := noamx
REF_FLAGS := -mno-amx-tile -mno-amx-int8 -mno-amx-bf16
REF_PIP_CACHE := $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/glint/pip-$(REF_BUILD)
$(VENV)/.stamp-$(REF_BUILD): requirements.txt | deps
	python3 -m venv --clear $(VENV)
	$(VENV)/bin/pip install -q --disable-pip-version-check --upgrade pip
	CMAKE_BUILD_PARALLEL_LEVEL=$(JOBS) \
	  CMAKE_ARGS='-DCMAKE_C_FLAGS="$(REF_FLAGS)" -DCMAKE_CXX_FLAGS="$(REF_FLAGS)"' \
	  $(VENV)/bin/pip install --disable-pip-version-check --cache-dir $(REF_PIP_CACHE) \
	  --no-binary llama_cpp_python -r requirements.txt
	touch $@

venv: $(VENV)/.stamp-$(REF_BUILD)

models-fast:
	scripts/fetch-models fast

models:
	scripts/fetch-models all

setup: deps venv models build

PORT ?= 8080
# Serves both tiers (glint-fast, glint-smart, and glint-auto routing between
# them) on 127.0.0.1:$(PORT): OpenAI-compatible HTTP, SSE and the Responses
# WebSocket at ws://127.0.0.1:$(PORT)/v1/responses.
serve: build models
	$(GLINT) serve --port $(PORT)

run: build models-fast
	$(GLINT) run --model fast --chat -n 200 -p "$(PROMPT)"

test: build venv models
	@scripts/run-tests

test-unit: build
	ctest --test-dir $(BUILD) --output-on-failure -j $(JOBS)

test-e2e: build venv models
	GLINT_BIN=$(abspath $(GLINT)) $(PY) -m pytest -q tests/e2e tests/kernels

# Unit tests under AddressSanitizer + UBSan.
test-asan: deps
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Debug -DGLINT_SANITIZE=ON \
	  -DGLINT_BUILD_BENCH=OFF
	ninja -C $(ASAN_BUILD) -j $(JOBS)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure -j $(JOBS)

# The tests that run threads (ctest label tsan) under ThreadSanitizer; only
# their binaries are built.
test-tsan: deps
	cmake -S . -B $(TSAN_BUILD) -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DGLINT_TSAN=ON \
	  -DGLINT_BUILD_BENCH=OFF
	ninja -C $(TSAN_BUILD) -j $(JOBS) glint_tsan_tests
	ctest --test-dir $(TSAN_BUILD) -L tsan --output-on-failure -j $(JOBS)

bench: build venv models
	$(PY) bench/e2e/compare_ref.py --model fast
	$(PY) bench/e2e/compare_ref.py --model smart
	$(PY) bench/e2e/batched.py --model fast --parallel 8

# Each libFuzzer target runs FUZZ_SECONDS from its committed seed corpus; new
# inputs go to build/fuzz-corpus, crashes to build/fuzz-artifacts.
FUZZ_SECONDS ?= 60
fuzz:
	@scripts/install-deps clang libclang-rt-14-dev
	CC=clang CXX=clang++ cmake -S . -B build/fuzz -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	  -DGLINT_FUZZ=ON -DGLINT_SANITIZE=ON -DGLINT_BUILD_TESTS=OFF -DGLINT_BUILD_BENCH=OFF
	ninja -C build/fuzz -j $(JOBS) $$(cd tests/fuzz && ls *_fuzz.cc | sed 's/\.cc$$//')
	@mkdir -p build/fuzz-artifacts
	@for src in tests/fuzz/*_fuzz.cc; do \
	  name=$$(basename $$src .cc); layer=$${name%_fuzz}; \
	  mkdir -p build/fuzz-corpus/$$layer; \
	  dict=tests/fuzz/$$layer.dict; [ -f $$dict ] && dictarg=-dict=$$dict || dictarg=; \
	  echo "== $$name for $(FUZZ_SECONDS) s"; \
	  build/fuzz/$$name build/fuzz-corpus/$$layer tests/fuzz/corpus/$$layer $$dictarg \
	    -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=build/fuzz-artifacts/$$name- || exit 1; \
	done

clean:
	rm -rf build
