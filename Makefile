# Two entry points, both from a fresh clone with nothing installed by hand:
#   make lab   install everything into .venv and open JupyterLab on the quickstart notebook
#   make test  install what the tests need (Python packages, PostgreSQL) and run every test

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

.PHONY: lab test test-deps system-deps install bench clean

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first, pinned to the CPU build these machines carry: a bare `torch` would fetch a CUDA build.
TORCH ?= torch==2.13.0

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test,lab]"
	touch $(STAMP)

install: $(STAMP)

# PostgreSQL from Debian's packages, for the store suite (the tests start their own cluster).
system-deps:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; \
	  else echo "note: PostgreSQL is not installed; its tests will be skipped (apt-get install postgresql)"; fi; \
	fi

test-deps: install system-deps

test: test-deps
	$(PY) -m pytest

lab: install
	$(BIN)/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/01-quickstart.ipynb

bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || true
	status=0; for script in bench/bench_*.py; do $(PY) $$script || status=1; done; exit $$status

clean:
	rm -rf $(VENV) .pytest_cache build dist
