# carbonx — the two commands the README promises, plus `check`.
# Works on a fresh machine with only Python 3.11+ and make: the venv is created on demand.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: run test check install bench bench-e2e bench-flood clean

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "carbonx needs Python 3.11 or newer (found " + sys.version.split()[0] + "); set PYTHON=python3.11")'
	$(PYTHON) -m venv $(VENV)

$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

# The exchange node on the defaults in config/, in demo mode: demo members funded, a session open at once.
run: $(STAMP)
	$(BIN)/carbonx serve --demo

test: $(STAMP)
	$(BIN)/python -m pytest

check: $(STAMP)
	$(BIN)/ruff check engine settlement gateway market_data surveillance carbonx bench tests
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python -m bench

# The running node end to end: throughput and latency over tcp loopback beside a raw pyzmq baseline.
bench-e2e: $(STAMP)
	$(BIN)/python -m bench.e2e

# A well-behaved member's order -> Ack latency while another floods the node (issue 12), and the node's RSS.
bench-flood: $(STAMP)
	$(BIN)/python -m bench.flood

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache .hypothesis
