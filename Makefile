# Two commands from a fresh clone: `make demo` and `make test`. Needs Python 3.11 and make.
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test fuzz lint install opa-go clean lock

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# Every version `make install` puts in .venv is pinned in requirements.lock (the direct pins of
# pyproject.toml and everything they pull in), so two machines get the same environment; the
# package itself is then installed without resolving anything. The suite runs the database
# tests on PostgreSQL and the monitor on Spark, so the lock has those extras. After changing a
# dependency in pyproject.toml, `make lock` regenerates it (uv, in a throwaway venv).
LOCK := requirements.lock

$(STAMP): pyproject.toml $(LOCK) | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r $(LOCK)
	$(BIN)/python -m pip install --quiet --no-deps -e ".[test,postgres,spark]"
	touch $(STAMP)

UV := .lock-venv/bin/uv

$(UV):
	$(PYTHON) -m venv .lock-venv
	.lock-venv/bin/python -m pip install --quiet uv==0.13.8

lock: $(UV)
	$(UV) pip compile pyproject.toml --extra test --extra postgres --extra spark \
		--python-version 3.11 --python-platform x86_64-unknown-linux-gnu \
		--custom-compile-command "make lock" --quiet -o $(LOCK)

# OPA's own Go evaluator, for the differential policy tests and `--engine opa-go`. The wheel
# declares Requires-Python >=3.14 although its ctypes wrapper runs on 3.11 (it has no
# dependencies), so pip refuses it as a dependency: installed alone, pinned, without deps.
# The suite checks the OPA version inside (auditor/policy/opa_go.py, OPA_VERSION).
OPA_GO_BINDINGS := opa-golib-python-bindings==0.4.4
OPA_GO := $(VENV)/.opa-go-0.4.4

$(OPA_GO): $(STAMP)
	$(BIN)/python -m pip install --quiet --no-deps --ignore-requires-python $(OPA_GO_BINDINGS)
	touch $(OPA_GO)

# A real OpenID provider for the review application's sign-in tests (tests/serve/test_oidc.py):
# panva's oidc-provider from the npm registry, run with Node.js. Without npm the tests that
# need it are skipped, saying so.
OIDC_PEER := tests/serve/oidc/node_modules/.package-lock.json

$(OIDC_PEER): tests/serve/oidc/package-lock.json
	-command -v npm >/dev/null 2>&1 && npm ci --prefix tests/serve/oidc --no-audit --no-fund --silent

install: $(STAMP)

opa-go: $(OPA_GO)

demo: $(STAMP)
	$(BIN)/auditor demo

test: $(STAMP) $(OPA_GO) $(OIDC_PEER)
	$(BIN)/python -m pytest -q

# Each reader's and the people loader's fuzz target for 10 minutes (the test suite runs them for
# 2 seconds each); a failure prints FUZZ_SEED and the mutations to replay it.
fuzz: $(STAMP)
	FUZZ_SECONDS=600 $(BIN)/python -m pytest -q -p no:cacheprovider tests/ingest/test_fuzz.py

lint: $(STAMP)
	$(BIN)/ruff check auditor tests benchmarks
	$(BIN)/ruff format --check auditor tests benchmarks
	$(BIN)/mypy

clean:
	rm -rf $(VENV) .lock-venv .auditor reports/*.html *.egg-info
