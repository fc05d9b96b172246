# Two commands for a fresh machine:  `make run` (install + open the app)  and  `make test` (install + run all tests).
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ARCH := $(shell uname -m)
# On x86_64 the pinned pair comes from this machine's local wheel cache; a range admitting newer torch
# releases would download gigabytes of CUDA wheels.
TORCH_PIN := $(if $(filter x86_64,$(ARCH)),torch==2.14.1 torchvision==0.29.1,torch==2.9.1 torchvision==0.24.1)
# Which torch build: TORCH=pinned (default: the pinned pair from the default index; on x86_64 Linux that is
# the CUDA build, a venv of about 7 GB) or TORCH=cpu (the same pair, CPU-only, from PyTorch's CPU wheel
# index: about 2.2 GB, for machines without an NVIDIA GPU). Also read from the environment: TORCH=cpu make run.
# It applies when the venv is created: `make clean run TORCH=cpu` switches an existing one.
TORCH ?= pinned
TORCH_CPU_INDEX := https://download.pytorch.org/whl/cpu
ifeq ($(TORCH),cpu)
TORCH_ARGS := --index-url $(TORCH_CPU_INDEX) $(TORCH_PIN)
TORCH_BUILD := the CPU-only build of $(TORCH_PIN) from $(TORCH_CPU_INDEX)
else ifeq ($(TORCH),pinned)
TORCH_ARGS := $(TORCH_PIN)
TORCH_BUILD := $(TORCH_PIN) from the default index (CUDA on x86_64 Linux; TORCH=cpu for the CPU-only build)
else
$(error TORCH must be pinned or cpu, not '$(TORCH)')
endif

.PHONY: install run test bench clean shell

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	@echo "installing torch: $(TORCH_BUILD)"
	$(BIN)/pip install --quiet $(TORCH_ARGS)
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $@

install: $(VENV)/.installed

run: install
	@$(BIN)/python packaging/check_qt_libs.py  # Qt's X11/OpenGL system libraries: prints the apt-get line
	$(BIN)/geospottr-gui

test: install
	QT_QPA_PLATFORM=offscreen $(BIN)/python -m pytest

# A shell with `geospottr` and `geospottr-gui` on the PATH (the venv activated); `exit` leaves it.
shell: install
	@echo "geospottr is on the PATH in this shell (type exit to leave it)"
	@VIRTUAL_ENV="$(abspath $(VENV))" PATH="$(abspath $(BIN)):$$PATH" $${SHELL:-/bin/sh}

bench: install
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build dist *.egg-info
