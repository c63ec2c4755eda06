# One command to set up and serve, one to set up and test. See README.md.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: setup serve test lint browser clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,dask,encoder]'
	touch $(STAMP)

serve: setup
	$(VENV)/bin/medbrief serve

browser:
	@command -v chromium >/dev/null && command -v chromedriver >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null)

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy

test: setup browser lint
	$(VENV)/bin/pytest

clean:
	rm -rf $(VENV) models/*/ models/CURRENT .pytest_cache .mypy_cache .ruff_cache
