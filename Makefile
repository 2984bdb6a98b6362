# archcalc — every target installs what it needs into ./.venv on a fresh machine.
VENV    ?= .venv
PY      := $(VENV)/bin/python
PIP     := $(PY) -m pip
STAMP   := $(VENV)/.installed
# torch is pinned to the CPU build that lies on this machine's disk: an open range would pull a
# multi-GB CUDA build.
TORCH   ?= torch==2.13.0
PYTEST_WORKERS ?= 2

.DEFAULT_GOAL := help
.PHONY: help install test parity lint run bench bench-symbolic bench-instructions bench-peers gpu-check screenshots clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[torch,train,plot,onnx,dev,browser]'
	touch $(STAMP)

# The zoo's listing, written beside the package (~1 s) whenever a source or a spec is newer: tied to the
# content of archcalc's sources, it lets the first `archcalc list` read rows instead of analysing every spec
# (1.1 s); archcalc ignores it after any edit to the code (archcalc.cli.zoo_list).
LISTING := archcalc/listing.json
$(LISTING): $(STAMP) $(shell find archcalc -name '*.py') $(wildcard specs/*.yaml)
	$(PY) -m archcalc.cli.zoo_list

# The package's bytecode is compiled here: this environment sets PYTHONDONTWRITEBYTECODE, so without it
# every archcalc command would compile its ~60 modules from source (20 ms of a 90 ms cold start). -f: compileall
# judges a .pyc current by the source's mtime in whole seconds, import by mtime and size, so a file edited
# within the second of its last compile would otherwise stay stale and be compiled again on every command.
install: $(STAMP) $(LISTING)  ## create .venv with archcalc, torch (CPU), fvcore, onnx/onnxruntime, the dev tools and Playwright
	$(PY) -m compileall -q -f archcalc

test: $(STAMP)  ## run the test suite (the torchvision parity tests run in make parity)
	$(PY) -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider -m "not parity"

# torchvision's compiled ops need the torch build they were made for: the parity venv pins the pair that
# lies on this machine's disk (a CUDA build, about 5.5 GB installed, that runs on the CPU).
PARITY_VENV  := .venv-parity
PARITY_TORCH ?= torch==2.14.1 torchvision==0.29.1
$(PARITY_VENV)/.installed: pyproject.toml
	python3 -m venv $(PARITY_VENV)
	$(PARITY_VENV)/bin/python -m pip install -q --upgrade pip
	$(PARITY_VENV)/bin/python -m pip install -q $(PARITY_TORCH)
	$(PARITY_VENV)/bin/python -m pip install -q -e '.[torch,dev]'
	touch $@

# One torch thread a worker: two workers of two spinning OpenMP threads each on two cores made each case many
# times slower. The serial cases (one at a time, ~14 GB at the peak) then run alone with torch's default.
parity: $(PARITY_VENV)/.installed  ## every torchvision-family zoo spec against torchvision (in .venv-parity)
	OMP_NUM_THREADS=1 $(PARITY_VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider -m "parity and not serial" --durations=5
	$(PARITY_VENV)/bin/python -m pytest -p no:cacheprovider -m "parity and serial" --durations=5

lint: $(STAMP)  ## ruff and mypy --strict
	$(VENV)/bin/ruff check archcalc tests tools benchmarks
	$(VENV)/bin/mypy

run: $(STAMP) $(LISTING)  ## the main job: archcalc summary vgg16
	$(VENV)/bin/archcalc summary vgg16

# the peers (torchinfo, ptflops; fvcore comes with the torch extra) live in .venv beside archcalc, so that
# both run on the same interpreter and torch
BENCH_STAMP := $(VENV)/.bench-installed
$(BENCH_STAMP): $(STAMP)
	$(PIP) install -q -e '.[bench]'
	touch $@

bench: $(BENCH_STAMP) $(LISTING)  ## every performance target (issue 16) with its ratio, A/A control and ✓/✗ (a few minutes)
	$(PY) -m compileall -q -f archcalc
	$(PY) benchmarks/bench.py

BASELINE ?=
bench-symbolic: install  ## cold start, linear scaling, zoo listing (BASELINE=REV: against another revision)
	$(PY) benchmarks/bench_symbolic.py $(if $(BASELINE),--baseline $(BASELINE))

bench-instructions: install  ## instructions of cold commands, counted by valgrind (BASELINE=REV: against another revision)
	$(PY) benchmarks/instructions.py $(if $(BASELINE),--baseline $(BASELINE))

bench-peers: $(BENCH_STAMP)  ## archcalc vs torchinfo and fvcore in process, per-network detail
	$(PY) benchmarks/bench_peers.py

# on the device machine, with its own torch (no venv is built there): one JSON of results, < 8 minutes
GPU_PY ?= python3
gpu-check:  ## on a CUDA machine: bench/memory/compile/train figures into gpu-check.json (benchmarks/gpu_check.py)
	$(GPU_PY) benchmarks/gpu_check.py --out gpu-check.json

screenshots: $(STAMP)  ## redraw docs/report-*.png (the README's report pages; needs Debian's chromium)
	$(PY) docs/report_screenshots.py

clean:  ## remove build artefacts (keeps .venv and .venv-parity)
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
