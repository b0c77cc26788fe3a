# EDP Live. `make demo` runs the demo workshop; `make test` runs every test.
# Python packages come from the locks in requirements/ (pinned, with hashes): main.txt for
# running the app, dev.txt adds the test and lint tools. `make lock` rewrites both.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
RUNTIME := $(VENV)/.runtime
STAMP := $(VENV)/.installed
VENDOR := static/vendor
PIP := $(BIN)/pip install --quiet --disable-pip-version-check

.PHONY: setup setup-runtime demo test lint lock translations stack stack-stop clean

# Everything for development and tests.
setup: $(STAMP) $(VENDOR)/.installed edp/translations/.compiled instance/edp.sqlite3
# What running the app needs, without the dev tools (the demo, a production host).
setup-runtime: $(RUNTIME) $(VENDOR)/.installed edp/translations/.compiled instance/edp.sqlite3

$(RUNTIME): requirements/main.txt pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) --require-hashes --no-deps -r requirements/main.txt
	$(PIP) --no-deps -e .
	@# Either would change how WebSockets are served: Flask-SocketIO would pick eventlet over
	@# gevent, python-engineio gevent-websocket over simple-websocket (both left by older set-ups).
	@for pkg in eventlet gevent-websocket; do \
		if $(BIN)/pip show $$pkg >/dev/null 2>&1; then \
			echo "$$pkg is installed: removing it"; $(BIN)/pip uninstall -y -q $$pkg; fi; done
	touch $@

$(STAMP): requirements/dev.txt $(RUNTIME)
	$(PIP) --require-hashes --no-deps -r requirements/dev.txt
	touch $@

# After changing dependencies in pyproject.toml: pinned versions with hashes for every platform.
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --universal --python-version 3.11 --generate-hashes \
		--no-header --quiet -o requirements/main.txt
	$(BIN)/uv pip compile pyproject.toml --extra dev --universal --python-version 3.11 \
		--generate-hashes --no-header --quiet -o requirements/dev.txt

$(VENDOR)/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/socket.io-client/dist/socket.io.esm.min.js $(VENDOR)/socket.io.esm.min.js
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js
	cp node_modules/axe-core/axe.min.js $(VENDOR)/axe.min.js
	touch $@

edp/translations/.compiled: $(RUNTIME) $(wildcard edp/translations/*/LC_MESSAGES/messages.po)
	$(BIN)/pybabel compile -d edp/translations -f --statistics
	touch $@

instance/edp.sqlite3: $(RUNTIME) $(wildcard migrations/versions/*.py)
	env -u EDP_DATABASE_URL $(BIN)/edp init-db
	touch $@

demo: setup-runtime
	$(BIN)/edp demo

test: setup
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check edp tests bench deploy config.py

# Re-extract strings and update the es/pt catalogues after changing user-facing text.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o edp/translations/messages.pot .
	$(BIN)/pybabel update -i edp/translations/messages.pot -d edp/translations --no-fuzzy-matching

# The scaled-out stack on this machine: nginx (Debian's package) in front of EDP_STACK_PROCS
# (2) gunicorn processes on PostgreSQL and Redis, on EDP_STACK_PORT (8080). Returns once
# /healthz answers through nginx; `make stack-stop` stops it (docs/deployment.md).
stack: $(RUNTIME) $(VENDOR)/.installed edp/translations/.compiled
	$(BIN)/python deploy/stack.py start

stack-stop:
	@if [ -x $(BIN)/python ]; then $(BIN)/python deploy/stack.py stop; \
	else $(PYTHON) deploy/stack.py stop; fi

clean:
	rm -rf $(VENV) node_modules $(VENDOR) instance edp/translations/*/LC_MESSAGES/*.mo
