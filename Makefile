# Two commands do everything: `make run` (install, migrate, seed the demo, serve) and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: install run test test-quick lint typecheck bench netem lock clean

$(STAMP): requirements.lock pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.lock
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

run: install
	@$(BIN)/telemed db upgrade
	@$(BIN)/telemed demo --if-empty
	@$(BIN)/telemed serve

test: install
	$(BIN)/python -m pytest

# Everything but the slow end-to-end tests (real browser, long cycles).
test-quick: install
	$(BIN)/python -m pytest -m "not slow"

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check telemed records web signaling

typecheck: install
	$(BIN)/mypy

bench: install
	$(BIN)/python -m bench

# Calls over shaped links (root: network namespaces, tc, nft; coturn): docs/rural-links.md.
netem: install
	$(BIN)/python -m bench.links.matrix

# Re-pin the dependencies after changing pyproject.toml (needs the network to PyPI).
lock: install
	$(BIN)/python -m pip install --quiet uv
	$(BIN)/uv pip compile pyproject.toml --extra dev -o requirements.lock

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
