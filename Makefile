# The two set-up commands of the README:
#   make demo   installs radnec in .venv and runs the main job on the bundled demo case
#   make test   installs radnec with its test tools in .venv, runs ruff and mypy, then the test suite
#   make serve  installs radnec in .venv and starts the browser workspace (radnec serve; the demo case is imported)
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
DEMO_OUT ?= demo-out

.PHONY: demo test install bench clean serve web

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[test]"
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/radnec demo --out $(DEMO_OUT)

serve: install
	$(BIN)/radnec serve

test: install
	$(BIN)/ruff check src tests benchmarks web
	$(BIN)/mypy
	$(BIN)/python -m pytest -n 2 --dist loadfile -q

bench: install
	$(BIN)/python -m pip install --quiet -e ".[test,bench]"
	@for f in benchmarks/bench_*.py; do echo "== $$f"; $(BIN)/python $$f || exit 1; done

# The viewer's NiiVue bundle (src/radnec/web/static/vendor/niivue.js, checked in): npm, pinned by web/package-lock.json.
web:
	cd web && npm ci --no-audit --no-fund && npm run build

clean:
	rm -rf $(VENV) $(DEMO_OUT) .pytest_cache
