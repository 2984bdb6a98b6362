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
.PHONY: help install test parity lint run bench bench-symbolic bench-peers screenshots clean

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q $(TORCH)
	$(PIP) install -q -e '.[torch,train,plot,onnx,dev,browser]'
	touch $(STAMP)

install: $(STAMP)  ## create .venv with archcalc, torch (CPU), fvcore, onnx/onnxruntime, the dev tools and Playwright

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

parity: $(PARITY_VENV)/.installed  ## every torchvision-family zoo spec against torchvision (in .venv-parity)
	$(PARITY_VENV)/bin/python -m pytest -n $(PYTEST_WORKERS) -p no:cacheprovider -m parity --durations=5

lint: $(STAMP)  ## ruff and mypy --strict
	$(VENV)/bin/ruff check archcalc tests benchmarks
	$(VENV)/bin/mypy

run: $(STAMP)  ## the main job: archcalc summary vgg16
	$(VENV)/bin/archcalc summary vgg16

bench: bench-symbolic bench-peers  ## all benchmarks (ratios against baselines measured in the same run)

BASELINE ?=
bench-symbolic: $(STAMP)  ## cold start, linear scaling, zoo listing (BASELINE=REV: against another revision)
	$(PY) benchmarks/bench_symbolic.py $(if $(BASELINE),--baseline $(BASELINE))

BENCH_VENV := .venv-bench
$(BENCH_VENV)/.installed: pyproject.toml
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/python -m pip install -q --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install -q $(TORCH)
	$(BENCH_VENV)/bin/python -m pip install -q -e '.[torch]' torchinfo
	touch $@

bench-peers: $(BENCH_VENV)/.installed  ## archcalc vs torchinfo and fvcore on the same networks (peers live only in .venv-bench)
	$(BENCH_VENV)/bin/python benchmarks/bench_peers.py

screenshots: $(STAMP)  ## redraw docs/report-*.png (the README's report pages; needs Debian's chromium)
	$(PY) docs/report_screenshots.py

clean:  ## remove build artefacts (keeps .venv and .venv-parity)
	rm -rf build dist *.egg-info .pytest_cache .mypy_cache .ruff_cache .hypothesis
