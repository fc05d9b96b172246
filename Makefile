# Two commands for a fresh machine:  `make run` (install + open the app)  and  `make test` (install + run all tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARCH := $(shell uname -m)
# On x86_64 the pinned pair comes from this machine's local wheel cache; a range admitting newer torch
# releases would download gigabytes of CUDA wheels.
TORCH_PIN := $(if $(filter x86_64,$(ARCH)),torch==2.14.1 torchvision==0.29.1,torch==2.9.1 torchvision==0.24.1)

.PHONY: install run test bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/pip install --quiet $(TORCH_PIN)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	$(BIN)/geospottr-gui

test: install
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

bench: install
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info
