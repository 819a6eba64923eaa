# Sump: `make run` serves on an embedded SQLite database; `make test` runs lint, types and the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
CHROMIUM := /usr/bin/chromium
WRK := /usr/bin/wrk
NGINX := /usr/sbin/nginx
export SUMP_TEST_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

.PHONY: run test lint typecheck pytest test-fleet fuzz bench lock clean

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e .
	rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(BIN)/sump db upgrade
	$(BIN)/sump serve --host 127.0.0.1 --port 8080

test: lint typecheck pytest

lint: $(STAMP)
	$(BIN)/ruff check src tests examples
	$(BIN)/ruff format --check src tests examples
	$(BIN)/lint-imports --no-cache --no-logo  # DESIGN §3's import rules: the contracts in pyproject.toml

typecheck: $(STAMP)
	$(BIN)/mypy

pytest: $(STAMP) $(CHROMIUM)
	$(BIN)/pytest -n 2 --dist loadfile -m "not fleet" $(PYTEST_ARGS)

# nginx with TLS in front of three `sump serve` nodes on one PostgreSQL database and one Redis (docs/fleet.md).
test-fleet: $(STAMP) $(CHROMIUM) $(NGINX)
	$(BIN)/pytest -m fleet tests/fleet $(PYTEST_ARGS)

$(NGINX):
	apt-get install -y --no-install-recommends nginx || (apt-get update && apt-get install -y --no-install-recommends nginx)

# The console's browser tests drive Debian's Chromium (never a browser downloaded by a test tool).
$(CHROMIUM):
	apt-get install -y --no-install-recommends chromium || (apt-get update && apt-get install -y --no-install-recommends chromium)

# The API and console fuzzers run deeper than in `make test`: 60 cases per operation, 60 stateful scenarios of up
# to 8 steps, 60 posts per console form, on SQLite and PostgreSQL.
fuzz: $(STAMP)
	SUMP_FUZZ_EXAMPLES=60 $(BIN)/pytest -n 2 --dist load tests/test_schemathesis.py tests/fuzz $(PYTEST_ARGS)

# Sump beside the peers of ../shared/peers/ and a bare ASGI callable, one system loaded at a time, on PostgreSQL
# (about 12 minutes; BENCH_ARGS=--quick: under 3; --soak SECONDS: memory only); writes docs/performance.md.
bench: $(STAMP) $(WRK)
	$(BIN)/python bench/run $(BENCH_ARGS)

# wrk (Debian's) runs the same requests as the Python load generator, to show which one limits a run.
$(WRK):
	apt-get install -y --no-install-recommends wrk || (apt-get update && apt-get install -y --no-install-recommends wrk)

# Re-pin every dependency after changing pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
