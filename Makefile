# Two commands do all the set-up on a fresh machine:
#   make demo   runs the main job (a search on generated audio, embedded storage under runs/demo/)
#               and writes its Pareto report to runs/demo/report/index.html
#   make test   runs the test suite (installs PostgreSQL, Chromium, the speech synthesisers and the ARM cross
#               compiler for the tests that need them, when root)
# Both create .venv and install dslnas into it on first use.

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

# Python reads byte-code caches even where PYTHONDONTWRITEBYTECODE is set (CI images set it), but then never writes
# them, so every process (each CLI run, ViSQOL pool worker, Ray worker a test starts) compiled torch, optuna and
# numba from source again: about 3 s a process and half of the suite's time. The install compiles the venv's
# packages once and the recipes below may write the caches of our own modules (__pycache__ is git-ignored).
unexport PYTHONDONTWRITEBYTECODE

.PHONY: demo test bench system-deps clean screenshot

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet uv
	$(VENV)/bin/uv pip install --quiet --compile-bytecode --python $(PY) -e ".[test,natural]"
	touch $(STAMP)

demo: $(STAMP) system-deps
	$(VENV)/bin/dslnas search
	$(VENV)/bin/dslnas report --study demo --out runs/demo/report

# The README screenshot of the demo's report (top of the page through the listening sections), after `make demo`
screenshot: $(STAMP) system-deps
	$(PY) bench/report_screenshot.py runs/demo/report/index.html docs/report-demo.png

system-deps:
	bash .ci/system-deps.sh

test: $(STAMP) system-deps
	$(PY) -m pytest

bench: $(STAMP) system-deps
	$(PY) bench/cli_startup.py
	$(PY) bench/train_throughput.py
	$(PY) bench/cost_model_accuracy.py
	$(PY) bench/table1_prediction.py
	$(PY) bench/search_throughput.py --workers 1
	$(PY) bench/data_memory.py
	$(PY) bench/threads.py
	$(PY) bench/faults.py
	$(PY) bench/search_efficiency.py

clean:
	rm -rf $(VENV) runs test-output
