# Two commands do all set-up on a fresh machine:
#   make demo   - create .venv, install peerwatt, run a simulated community for one day
#   make test   - create .venv, install peerwatt[dev,train,crosscheck], run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
DEMO_ARGS ?=

.PHONY: demo simulate test lint check-mosquitto check-socat bench models clean forecast install train

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.demo-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[demo]'
	touch $@

# torch (the `train` extra, for the forecaster's training tests) goes in FIRST: the pin
# takes the CPU wheel (~45 s into a fresh venv); unpinned it would pull a CUDA build.
# `crosscheck` (mfglib, ~9 s more) lets the MFGLib cross-check of the solver run.
$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[dev,train,crosscheck]'
	touch $@ $(VENV)/.demo-installed $(VENV)/.sim-installed

demo: $(VENV)/.demo-installed
	$(BIN)/peerwatt demo $(DEMO_ARGS)

# Fleet simulation with baselines (HiGHS LP) and metrics: `make simulate SIM_ARGS="--agents 1000"`.
SIM_ARGS ?= --agents 1000 --json peerwatt-sim/metrics.json --report peerwatt-sim
$(VENV)/.sim-installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[sim]'
	touch $@

simulate: $(VENV)/.sim-installed
	$(BIN)/peerwatt simulate $(SIM_ARGS)

check-mosquitto:
	@command -v mosquitto >/dev/null 2>&1 || { \
	  echo "make test: the 'mosquitto' broker binary is not on PATH."; \
	  echo "  The integration tests talk to a real broker. Install it with:"; \
	  echo "    sudo apt-get install mosquitto     (Debian/Ubuntu/Raspberry Pi OS)"; \
	  exit 1; }

check-socat:
	@command -v socat >/dev/null 2>&1 || { \
	  echo "make test: the 'socat' binary is not on PATH."; \
	  echo "  The Modbus RTU tests run over a pseudo-terminal pair made by socat. Install it with:"; \
	  echo "    sudo apt-get install socat         (Debian/Ubuntu/Raspberry Pi OS)"; \
	  exit 1; }

test: check-mosquitto check-socat $(VENV)/.dev-installed
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/mypy

# One device poll cycle (median, p99) and the polling CPU share at 1 s; payments per second
# and a simulated day of settlement through lnsim: bench/results/
bench: $(VENV)/.dev-installed
	$(BIN)/python -m bench.poll_cycle
	$(BIN)/python -m bench.settlement --json bench/results/settlement.json

# Rebuild the shipped rule policy (needs the dev extra for the `onnx` package).
models: $(VENV)/.dev-installed
	$(BIN)/python -m models.build_rule_v2

# Train the battery policy (PPO) in the simulator's market and export it to a run dir
# (models/policy.md: measured time). It stays opt-in: `peerwatt simulate --control rl
# --rl-policy RUN/prob.onnx`; the default control is the one that wins (README).
TRAIN_DIR ?= peerwatt-train/policy
TRAIN_ARGS ?= --seed 0
train: $(VENV)/.dev-installed
	nice -n 10 $(BIN)/peerwatt models train policy $(TRAIN_ARGS) --run-dir $(TRAIN_DIR)
	$(BIN)/peerwatt models export policy --run-dir $(TRAIN_DIR) --out $(TRAIN_DIR)/prob.onnx

# Retrain, export and evaluate the shipped forecaster on CityLearn 2022 (a few minutes).
forecast: $(VENV)/.dev-installed
	$(BIN)/peerwatt data fetch
	$(BIN)/peerwatt models train forecast
	$(BIN)/peerwatt models export
	$(BIN)/peerwatt models evaluate forecast --json bench/results/forecast.json

# Install the agent as a systemd service (Debian / Raspberry Pi OS; see deploy/install.sh):
#   sudo make install [INSTALL_ARGS="--lightning-group bitcoin"]   or   make install DESTDIR=/tmp/stage
INSTALL_ARGS ?=
install:
	sh deploy/install.sh $(if $(DESTDIR),--destdir $(DESTDIR)) $(INSTALL_ARGS)

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache peerwatt-demo
