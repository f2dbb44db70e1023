# Two entry points, both from a fresh clone with nothing installed by hand:
#   make lab   install everything into .venv and open JupyterLab on the quickstart notebook
#   make test  install what the tests need (Python packages, PostgreSQL) and run every test

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
PY := $(BIN)/python
STAMP := $(VENV)/.installed

.PHONY: lab test test-deps system-deps install bench clean alipai-venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# torch first, pinned to the CPU build these machines carry: a bare `torch` would fetch a CUDA build.
TORCH ?= torch==2.13.0

$(STAMP): pyproject.toml | $(PY)
	$(PY) -m pip install --quiet "$(TORCH)"
	$(PY) -m pip install --quiet -e ".[test,lab]"
	PATH="$(abspath $(BIN)):$$PATH" $(BIN)/jupyter labextension develop --overwrite .  # it runs jupyter-builder from PATH
	$(BIN)/jupyter server extension enable --sys-prefix modeldeck
	touch $(STAMP)

install: $(STAMP)

# From Debian's packages: PostgreSQL for the store suite (the tests start their own cluster), HAProxy as
# the load balancer in front of replicas, and Chromium for the browser tests (Playwright drives it; browser
# downloads do not work here). wrk drives bench/bench_deploy.py (a Python load generator would take the
# cores the replicas need).
SYSTEM_PACKAGES := $(if $(wildcard /usr/lib/postgresql/*/bin/initdb),,postgresql) $(if $(shell command -v haproxy),,haproxy) $(if $(shell command -v chromium),,chromium) $(if $(shell command -v wrk),,wrk)

system-deps:
	@if [ -n "$(strip $(SYSTEM_PACKAGES))" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(SYSTEM_PACKAGES) >/dev/null; \
	  else echo "error: install $(SYSTEM_PACKAGES) (sudo apt-get install $(SYSTEM_PACKAGES))"; exit 1; fi; \
	fi

# alipai (PAI's Python SDK) pins numpy<2, which .venv cannot take: it gets a venv of its own, which
# tests/test_alibaba_alipai.py runs its registration flow in (as a subprocess).
ALIPAI_VENV := .venv-alipai
$(ALIPAI_VENV)/.installed:
	$(PYTHON) -m venv $(ALIPAI_VENV)
	$(ALIPAI_VENV)/bin/python -m pip install --quiet "alipai==0.4.13"
	touch $@

alipai-venv: $(ALIPAI_VENV)/.installed

test-deps: install system-deps alipai-venv

# The front ends' unit tests (vitest), then everything else: platform, client, magics, tutorials, browser,
# one module per worker, a worker per core (at most 4): a module's fixtures and a notebook's cells stay together.
test: test-deps
	cd js && npm test
	cd labextension && npm test
	$(PY) -m pytest --numprocesses auto --maxprocesses 4 --dist loadfile

lab: install
	$(BIN)/jupyter lab $$([ "$$(id -u)" = 0 ] && echo --allow-root) notebooks/01-quickstart.ipynb

bench: install
	@command -v wrk >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq wrk >/dev/null; } || true
	status=0; for script in bench/bench_*.py; do $(PY) $$script || status=1; done; exit $$status

clean:
	rm -rf $(VENV) $(ALIPAI_VENV) .pytest_cache build dist
