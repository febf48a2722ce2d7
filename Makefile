# Two commands do all set-up on a fresh machine:
#   make demo   - create .venv, install peerwatt, run a simulated community for one day
#   make test   - create .venv, install peerwatt[dev], run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_ARGS ?=

.PHONY: demo test lint check-mosquitto models clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(VENV)/.demo-installed

demo: $(VENV)/.demo-installed
	$(BIN)/peerwatt demo $(DEMO_ARGS)

check-mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || { \
	  echo "make test: the 'mosquitto' broker binary is not on PATH."; \
	  echo "  The integration tests talk to a real broker. Install it with:"; \
	  echo "    sudo apt-get install mosquitto     (Debian/Ubuntu/Raspberry Pi OS)"; \
	  exit 1; }

test: check-mosquitto $(VENV)/.dev-installed
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/mypy

# Rebuild the first shipped models (needs the dev extra for the `onnx` package).
models: $(VENV)/.dev-installed
	$(BIN)/python -m models.build_v0

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache peerwatt-demo
