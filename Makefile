# make run   : install if needed, then start the emulator on http://127.0.0.1:8080/v1
#              (make run PORT=9000 DATA_DIR=/tmp/state: another port, another state folder)
# make test  : install if needed, then run the whole test suite
# make bench : install if needed, then run the benchmarks (prints a table, writes bench/results.json)
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
NODE_STAMP := tests/node/node_modules/.installed
PYTEST_ARGS ?=
PORT ?= 8080
DATA_DIR ?= .emulator

.PHONY: install run test bench clean

install: $(STAMP) $(NODE_STAMP)

$(STAMP): setup.cfg pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# The official Node SDK and the Appwrite CLI, used by the compatibility tests.
$(NODE_STAMP): tests/node/package.json
	cd tests/node && npm install --no-audit --no-fund --loglevel=error
	touch $(NODE_STAMP)

run: $(STAMP)
	$(PY) -m emulator serve --host 127.0.0.1 --port $(PORT) --data-dir $(DATA_DIR)

test: install
	$(PY) -m pytest -n 2 --dist loadfile -q -rs $(PYTEST_ARGS)

bench: install
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) tests/node/node_modules .emulator
