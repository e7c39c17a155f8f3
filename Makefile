# Two commands do all the set-up on a fresh machine:
#   make demo   runs the main job (a search on generated audio, embedded storage under runs/demo/)
#               and writes its Pareto report to runs/demo/report/index.html
#   make test   runs the test suite (installs PostgreSQL and Chromium for the tests that need them)
# Both create .venv and install dslnas into it on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test bench system-deps clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet uv
	$(VENV)/bin/uv pip install --quiet --python $(PY) -e ".[test]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/dslnas search
	$(VENV)/bin/dslnas report --study demo --out runs/demo/report

system-deps:
	bash .ci/system-deps.sh

test: $(STAMP) system-deps
	$(PY) -m pytest

bench: $(STAMP)
	$(PY) bench/train_throughput.py
	$(PY) bench/cost_model_accuracy.py
	$(PY) bench/search_throughput.py

clean:
	rm -rf $(VENV) runs test-output
