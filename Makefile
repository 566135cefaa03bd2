# The two commands a fresh machine needs: `make demo` and `make test` (README).
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.gancore-installed
# Tests run the notebooks at smoke scale; two workers match the 2-core CI machine. loadgroup keeps the browser
# test's notebooks on one worker (one JupyterLab, one Chromium).
PYTEST_ARGS ?= -n 2 --dist loadgroup

.PHONY: setup demo test browser lab bench bench-gpu shapes-net clean

setup: $(STAMP)

# Re-install only when the dependency files change. The lock pins the exact set tested here.
$(STAMP): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade --quiet pip
	$(BIN)/python -m pip install --quiet -c requirements.lock -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/python scripts/run_demo.py --scale reduced --out runs

test: $(STAMP) browser
	$(BIN)/python -m pytest $(PYTEST_ARGS) tests

# Chromium for tests/test_browser.py (Playwright drives Debian's build: its own browser download is not reachable
# here). Installs only where it can (root with apt-get; bounded, so a blocked mirror cannot hang the tests); elsewhere
# the browser test skips and says why.
browser:
	@command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 || \
	{ [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1 && \
	  { DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1 || \
	    { timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 600 apt-get install -y -qq --no-install-recommends \
	      chromium >/dev/null; }; }; } || \
	echo "make browser: Chromium could not be installed (needs root and apt-get): tests/test_browser.py will skip"

# Containers run as root, where JupyterLab refuses to start without --allow-root.
# The overrides turn off JupyterLab's news prompt and update check (scripts/jupyterlab/overrides.json).
lab: $(STAMP)
	mkdir -p $(VENV)/share/jupyter/lab/settings
	cp scripts/jupyterlab/overrides.json $(VENV)/share/jupyter/lab/settings/overrides.json
	$(BIN)/jupyter lab $$( [ "$$(id -u)" = 0 ] && echo --allow-root ) \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate notebooks/

bench: $(STAMP)
	$(BIN)/python benchmarks/throughput.py

# One table of every paper's full configuration on a GPU, plain fp32 beside the fast switches (<= 8 minutes).
# Without the venv (a GPU node's own Python): PYTHONPATH=. python benchmarks/gpu_report.py
bench-gpu: $(STAMP)
	PYTHONPATH=. $(BIN)/python benchmarks/gpu_report.py --json runs/gpu_report.json

shapes-net: $(STAMP)
	$(BIN)/python scripts/train_shapes_net.py

clean:
	rm -rf runs .pytest_cache
