# Two commands set everything up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
WEB_STAMP := web/node_modules/.installed
VENDOR := api/static/vendor
EXAMPLE := scenarios/examples/iowa_counties.json

.PHONY: run test test-slow lint bench browser clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

# Front-end libraries come from the npm registry (web/package-lock.json), never from a CDN.
$(WEB_STAMP): web/package.json web/package-lock.json
	cd web && npm ci --no-audit --no-fund --loglevel=error
	mkdir -p $(VENDOR)/leaflet
	cp -r web/node_modules/leaflet/dist/. $(VENDOR)/leaflet/
	touch $(WEB_STAMP)

# Browser tests drive the distribution's Chromium (Playwright's own download is not available).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	  else echo "chromium not installed and not root: browser tests will be skipped"; fi; }

run: $(STAMP) $(WEB_STAMP)
	$(VENV)/bin/territoria solve $(EXAMPLE) --out plan.json --time-limit 30

# Style and types first (seconds), then the tests.
lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy

test: $(STAMP) $(WEB_STAMP) browser lint
	$(PY) -m pytest -q

test-slow: $(STAMP) $(WEB_STAMP) browser
	$(PY) -m pytest -q -m slow

bench: $(STAMP)
	$(PY) benchmarks/districting_table.py
	$(PY) benchmarks/heuristic_bench.py

clean:
	rm -rf $(VENV) plan.json web/node_modules $(VENDOR)
