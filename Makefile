# The two set-up commands of the README: `make demo` and `make test`.
# Each bootstraps its own virtual environment, so a fresh machine needs only Python 3.11+ and make.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

# Test-only Node tooling (tests/node): a real OpenID Provider, Spectral for the API design rules and axe-core
# for the accessibility checks of the web tests (which drive Debian's Chromium: tests/install-chromium).
# Without npm the tests that need it skip (CI sets REGIE_REQUIRE_OIDC/REGIE_REQUIRE_NODE: they fail).
NODE_DIR   := tests/node
NODE_STAMP := $(NODE_DIR)/node_modules/.installed
NODE_TOOLS := $(if $(shell command -v npm 2>/dev/null),$(NODE_STAMP),node-missing)

.PHONY: demo test serve lint bench clean node-missing

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit("casusregie needs Python 3.11 or newer") if sys.version_info < (3, 11) else None'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): $(NODE_DIR)/package-lock.json
	npm ci --prefix $(NODE_DIR) --no-audit --no-fund --loglevel=error --ignore-scripts
	touch $(NODE_STAMP)

node-missing:
	@echo "npm not found: the OpenID Provider and API design-rules tests skip (tests/node is not installed)"

demo: $(STAMP)
	$(BIN)/regie demo

# Try the web application and the HTTP API by hand: the demo store, a local development identity provider
# (any user name signs in), tokens per user.
serve: $(STAMP) $(NODE_STAMP)
	$(BIN)/python tests/dev_server.py

# One worker per core: every test makes its own store (a file, or a schema of its own in PostgreSQL), its own
# key folder and its own ports, so they run side by side. A module whose tests share a module-scoped fixture
# (the browser tests' signed-in users) stays on one worker, in order (tests/conftest.py marks it);
# the others are spread test by test. TEST_WORKERS=0 runs them one after another.
TEST_WORKERS ?= auto

test: $(STAMP) $(NODE_TOOLS)
	-@tests/install-chromium
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis $(NODE_DIR)/node_modules
