# Sump: `make run` serves on an embedded SQLite database; `make test` runs lint, types and the whole suite.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat requirements.lock pyproject.toml | cksum | cut -d' ' -f1)
CHROMIUM := /usr/bin/chromium
WRK := /usr/bin/wrk
CC_BIN := /usr/bin/cc
NGINX := /usr/sbin/nginx
RELYING_PARTY := tests/oidc/relying_party/node_modules/.installed
export SUMP_TEST_DATABASE_URL ?= postgresql+asyncpg://postgres@127.0.0.1:5432/postgres

.PHONY: run test lint typecheck pytest test-fleet fuzz bench lock clean image compose-up compose-down

$(STAMP): requirements.lock pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements.lock
	# argon2-cffi's bindings built for this machine's CPU, whose vector instructions the portable wheel leaves
	# unused: Sump hashes with them when their hash costs less than libsodium's (kit.passwords). Without a C
	# compiler the portable wheel stays.
	CFLAGS="-O3 -march=native" $(BIN)/pip install --quiet --disable-pip-version-check --no-cache-dir --no-deps \
	  --force-reinstall --no-binary argon2-cffi-bindings "$$(grep '^argon2-cffi-bindings==' requirements.lock)" \
	  || echo "argon2-cffi-bindings: the portable wheel stays (no build for this machine's CPU)"
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

pytest: $(STAMP) $(CHROMIUM) $(RELYING_PARTY)
	$(BIN)/pytest -n 2 --dist loadfile -m "not fleet" $(PYTEST_ARGS)

# openid-client, a relying party no one here wrote, for tests/oidc/browser/test_openid_client.py (the machine's
# Node.js and npm; the versions pinned by its package-lock.json).
$(RELYING_PARTY): tests/oidc/relying_party/package-lock.json
	npm ci --prefix tests/oidc/relying_party --no-audit --no-fund --loglevel=error
	touch $@

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
# (about 15 minutes; BENCH_ARGS=--quick: under 3; --soak SECONDS: the soak of mixed requests only); writes docs/performance.md.
bench: $(STAMP) $(WRK) $(CC_BIN)
	$(BIN)/python bench/run $(BENCH_ARGS)

# wrk (Debian's) runs the same requests as the Python load generator, to show which one limits a run.
$(WRK):
	apt-get install -y --no-install-recommends wrk || (apt-get update && apt-get install -y --no-install-recommends wrk)

# A C compiler builds the bench's open-loop generator (bench/sumpbench/openloop.c).
$(CC_BIN):
	apt-get install -y --no-install-recommends gcc libc6-dev || (apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev)

# Re-pin every dependency after changing pyproject.toml.
lock:
	rm -rf .lock-venv && $(PYTHON) -m venv .lock-venv
	.lock-venv/bin/pip install --quiet -e '.[dev]'
	.lock-venv/bin/pip freeze --exclude-editable > requirements.lock
	rm -rf .lock-venv

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache

# Container images and compose.yaml with podman, on a machine that reaches Debian's packages but no image registry
# (not part of `make test`; docs/container.md). `make image`: a Debian base made by debootstrap when missing, then
# Sump's image. `make compose-up` / `compose-down`: PostgreSQL and Redis images from Debian's packages, then
# compose.yaml's services (deploy/compose). The machine's CA bundle goes to pip in the build as a secret.
PODMAN := CONTAINERS_CONF=$(CURDIR)/deploy/podman.conf podman
PODMAN_BUILD := $(PODMAN) build --format docker --build-arg BASE=localhost/sump-debian:bookworm
CA_CERTIFICATES ?= /etc/ssl/certs/ca-certificates.crt
CA_SECRET := --secret id=ca-certificates,src=$(CA_CERTIFICATES)
COMPOSE_IMAGES := SUMP_IMAGE=localhost/sump:latest SUMP_POSTGRES_IMAGE=localhost/sump-postgres:15 \
	SUMP_REDIS_IMAGE=localhost/sump-redis:7 CONTAINERS_CONF=$(CURDIR)/deploy/podman.conf

image: /usr/bin/podman
	$(PODMAN) image exists localhost/sump-debian:bookworm || \
		CONTAINERS_CONF=$(CURDIR)/deploy/podman.conf deploy/debian-base localhost/sump-debian:bookworm
	$(PODMAN_BUILD) $(if $(wildcard $(CA_CERTIFICATES)),$(CA_SECRET)) -t localhost/sump:latest .

compose-up: image deploy/.venv/bin/podman-compose
	$(PODMAN_BUILD) -t localhost/sump-postgres:15 deploy/postgres
	$(PODMAN_BUILD) -t localhost/sump-redis:7 deploy/redis
	$(COMPOSE_IMAGES) deploy/compose up

compose-down: deploy/.venv/bin/podman-compose
	$(COMPOSE_IMAGES) deploy/compose down

/usr/bin/podman:
	apt-get install -y --no-install-recommends podman runc netavark aardvark-dns iptables debootstrap || \
		(apt-get update && apt-get install -y --no-install-recommends podman runc netavark aardvark-dns iptables debootstrap)

# Debian's podman-compose (1.0.3) misreads compose.yaml's health checks and network; a newer one, in its own venv.
deploy/.venv/bin/podman-compose:
	$(PYTHON) -m venv deploy/.venv
	deploy/.venv/bin/pip install --quiet --disable-pip-version-check podman-compose==1.6.0
