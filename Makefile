# catalyst_hub: `make demo` runs a local hub with demo data, `make test` runs every test.
VENV  := .venv
PY    := $(VENV)/bin/python
TOOLS := .tools
# the Ralph LRS (xAPI tests and benchmark), in a virtual environment of its own: its pinned
# dependencies (FastAPI, pydantic, uvicorn) are not ours to share
RALPH := .ralph-venv
export PATH := $(CURDIR)/$(TOOLS)/node_modules/.bin:$(CURDIR)/$(VENV)/bin:$(PATH)
PYTEST_ARGS ?=

.PHONY: setup demo test test-python test-clock test-serverext test-labextension lint format bench browsers clean

setup: $(VENV)/.installed $(TOOLS)/.installed $(RALPH)/.installed

$(VENV)/.installed: pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q -U pip
	$(PY) -m pip install -q -e ".[test]"
	# an editable install does not place the wheel's etc/jupyter switch: enable the extension
	$(VENV)/bin/jupyter server extension enable catalyst_hub.serverext --sys-prefix
	touch $@

$(RALPH)/.installed:
	test -x $(RALPH)/bin/python || python3 -m venv $(RALPH)
	$(RALPH)/bin/python -m pip install -q "ralph-malph[lrs]==5.1.0" requests
	touch $@

# configurable-http-proxy, the proxy JupyterHub starts, from npm into a local folder
$(TOOLS)/.installed:
	mkdir -p $(TOOLS)
	cd $(TOOLS) && npm install --no-audit --no-fund --silent configurable-http-proxy@^5 axe-core@^4
	touch $@

demo: setup
	$(VENV)/bin/catalyst-hub demo

test: setup test-python test-clock test-serverext test-labextension

test-python:
	$(PY) -m pytest $(PYTEST_ARGS)

# the tests that build data relative to now, again just after and just before midnight UTC
test-clock:
	$(PY) -m pytest -m clock --clock=00:05 $(PYTEST_ARGS)
	$(PY) -m pytest -m clock --clock=23:55 $(PYTEST_ARGS)

test-labextension:
	cd labextension && { test -d node_modules || npm ci --no-audit --no-fund; } && npm test

test-serverext:
	$(PY) -m pytest -c tests/serverext/pytest.ini tests/serverext $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
	cd labextension && { test -d node_modules || npm ci --no-audit --no-fund; } && npm run lint

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) $(TOOLS) $(RALPH) .demo

# the README's images (docs/*.png) from `catalyst-hub demo --consortium` itself, in headless
# Chromium; squeezed by pngquant and optipng where installed (apt-get install pngquant optipng)
.PHONY: screenshots
screenshots: setup
	$(PY) -m harness.screenshots --out docs
