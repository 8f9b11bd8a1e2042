# Two entry points (see README): `make run` and `make test`.
# Both create the environment in .venv/ from the pinned lock file first.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
CORES ?= all

.PHONY: setup run test lint format report clean

$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e ".[workflow,dev]"
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/snakemake --cores $(CORES)

# One BLAS/OpenMP thread per test worker, two workers (one per core on a laptop/CI
# runner); a test module stays on one worker (module-scoped fixtures, e.g. SLURM), and
# modules are handed out in the order tests/conftest.py gives them (longest first).
PYTEST_ARGS ?= -n 2 --dist loadfile --no-loadscope-reorder --durations=15
test: setup
	OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1 \
		$(BIN)/python -m pytest -q $(PYTEST_ARGS)

lint: setup
	$(BIN)/ruff check . && $(BIN)/ruff format --check . && $(BIN)/snakefmt --check Snakefile workflow/rules

format: setup
	$(BIN)/ruff check --fix . && $(BIN)/ruff format . && $(BIN)/snakefmt Snakefile workflow/rules

report: setup
	$(BIN)/snakemake --cores 1 --report report.zip

clean:
	rm -rf results .snakemake report.zip
