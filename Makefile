# Set-up is part of every target: a fresh machine needs only python3 (3.10+) and make.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: quickstart test clean-runs

quickstart: $(STAMP)
	$(BIN)/gristmill run workflows/quickstart.yaml --workdir runs/quickstart

test: $(STAMP)
	$(BIN)/python -m pytest -q

$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: an unpinned or newer torch would pull a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	touch $(STAMP)

clean-runs:
	rm -rf runs
