# EDP Live. `make demo` runs the demo workshop; `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
VENDOR := static/vendor

.PHONY: setup demo test lint translations clean

setup: $(STAMP) $(VENDOR)/.installed edp/translations/.compiled instance/edp.sqlite3

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	@if $(BIN)/pip show eventlet >/dev/null 2>&1; then \
		echo "eventlet is installed: Flask-SocketIO would pick it; removing"; \
		$(BIN)/pip uninstall -y eventlet; fi
	touch $@

$(VENDOR)/.installed: package.json
	npm install --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)
	cp node_modules/socket.io-client/dist/socket.io.esm.min.js $(VENDOR)/socket.io.esm.min.js
	cp node_modules/chart.js/dist/chart.umd.min.js $(VENDOR)/chart.umd.min.js
	cp node_modules/axe-core/axe.min.js $(VENDOR)/axe.min.js
	touch $@

edp/translations/.compiled: $(STAMP) $(wildcard edp/translations/*/LC_MESSAGES/messages.po)
	$(BIN)/pybabel compile -d edp/translations -f --statistics
	touch $@

instance/edp.sqlite3: $(STAMP) $(wildcard migrations/versions/*.py)
	$(BIN)/edp init-db
	touch $@

demo: setup
	$(BIN)/edp demo

test: setup
	$(BIN)/python -m pytest

lint: setup
	$(BIN)/ruff check edp tests bench

# Re-extract strings and update the es/pt catalogues after changing user-facing text.
translations: $(STAMP)
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext -o edp/translations/messages.pot .
	$(BIN)/pybabel update -i edp/translations/messages.pot -d edp/translations --no-fuzzy-matching

clean:
	rm -rf $(VENV) node_modules $(VENDOR) instance edp/translations/*/LC_MESSAGES/*.mo
