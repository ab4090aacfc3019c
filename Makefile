# make run: start web, worker and beat on this machine.  make test: set up and run the tests.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/sched

.PHONY: run test test-postgres test-sqlite lint venv clean podman

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt cli/pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	# The `sched` command (cli/, a package of its own: a client of the API, no Django),
	# editable so the checkout's code runs; requirements.txt pins its libraries.
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps -e ./cli
	touch $@

# The example catalog plugin, which the tests use (a separate package, by entry point).
# Only the tests install it: `make run` serves the built-in catalog tasks alone.
.PHONY: plugin
plugin: $(VENV)/.plugin

$(VENV)/.plugin: $(VENV)/.installed $(wildcard examples/sched-example-plugin/*.toml examples/sched-example-plugin/sched_example_plugin/*.py)
	$(BIN)/pip install --quiet --disable-pip-version-check --no-deps --force-reinstall \
		./examples/sched-example-plugin
	touch $@

run: venv
	$(BIN)/python scripts/run.py

# The whole suite on PostgreSQL, the fault-injection suite, then the API and end-to-end
# smoke tests on SQLite.
test: imports openapi test-postgres test-faults test-sqlite

# The import map of docs/design.md ("Layout"): pyproject.toml's import-linter contracts.
.PHONY: imports
imports: venv
	$(BIN)/lint-imports

# The OpenAPI document (/api/v1/schema) is valid OpenAPI 3 and drf-spectacular generates it
# without a warning (docs/api.md, "The OpenAPI document"). A throw-away key: nothing is signed.
.PHONY: openapi
openapi: venv
	SECRET_KEY=openapi-document-check-only-not-a-secret-0123456789abcdef DEBUG=0 \
		$(BIN)/python manage.py spectacular --validate --fail-on-warn --file /dev/null

test-postgres: venv plugin podman browser
	DATABASE_URL=$(TEST_DATABASE_URL) SCHED_PODMAN_DIR=$(PODMAN_DIR) \
		$(BIN)/pytest -n 2 --dist loadfile -m "not faults" $(PYTEST_ARGS)

# Fault injection (tests/faults): kills and restarts real workers, beats, Redis and a
# PostgreSQL cluster of its own (initdb, a free port), hundreds of jobs per test. Serial, a
# few minutes; it never touches the server at TEST_DATABASE_URL. Figures in the summary.
.PHONY: test-faults
test-faults: venv plugin
	$(BIN)/pytest tests/faults -p no:xdist -m faults $(PYTEST_ARGS)

test-sqlite: venv plugin podman
	DATABASE_URL= SCHED_PODMAN_DIR=$(PODMAN_DIR) $(BIN)/pytest -m smoke $(PYTEST_ARGS)

# Podman serving the Docker Engine API for the docker task tests: installs it if missing
# (as root), imports the test image, starts the service (see docs/design.md). Where it
# cannot run, the tests that need containers are skipped, saying why.
PODMAN_DIR ?= /tmp/sched-podman
podman:
	@scripts/podman-setup.sh $(PODMAN_DIR) \
		|| echo "podman is not available here: the docker task tests will be skipped"

# Chromium and its driver for the admin's browser tests: installed if missing (as root);
# where they cannot be, those tests are skipped, saying why.
.PHONY: browser
browser:
	@scripts/browser-setup.sh \
		|| echo "chromium is not available here: the admin's browser tests will be skipped"

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

clean:
	rm -rf $(VENV) var staticfiles

# Benchmarks (bench/, never timed tests): a fresh bench_* database on the PostgreSQL of
# BENCH_DATABASE_URL and a private redis-server; prints the table and writes it, with the
# fire-lag plot, into docs/benchmarks.md. bench: a few minutes; bench-full: 1M jobs, profiles.
BENCH_DATABASE_URL ?= $(TEST_DATABASE_URL)
.PHONY: bench bench-full
bench: venv
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_COMMAND="make bench" $(BIN)/python -m bench $(BENCH_ARGS)

bench-full: venv
	BENCH_DATABASE_URL=$(BENCH_DATABASE_URL) BENCH_COMMAND="make bench-full" \
		$(BIN)/python -m bench --full --profile $(BENCH_ARGS)
