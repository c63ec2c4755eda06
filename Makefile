# One command to set up and serve, one to set up and test. See README.md.
VENV ?= .venv
PY := $(VENV)/bin/python
LIGHT := $(VENV)/.installed-light
FULL := $(VENV)/.installed-full

.PHONY: setup serve test lint browser package-check clean

# The light default: what `make serve` needs, no encoder, no test tools.
$(LIGHT): pyproject.toml setup.py
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e .
	touch $(LIGHT)

# Everything the tests exercise: the test tools and every extra.
$(FULL): $(LIGHT)
	$(PY) -m pip install --quiet -e '.[test,dask,encoder,pandas,parquet,report]'
	touch $(FULL)

setup: $(FULL)

serve: $(LIGHT)
	$(VENV)/bin/medbrief serve

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

lint: $(FULL)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: $(FULL) browser lint
	$(VENV)/bin/pytest

# Build the wheel, install it in a fresh venv outside the clone, and use it from there.
package-check: $(LIGHT)
	bash scripts/check_wheel.sh $(PY)

clean:
	rm -rf $(VENV) models/*/ models/CURRENT .pytest_cache .mypy_cache .ruff_cache build dist
