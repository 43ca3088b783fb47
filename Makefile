# Two commands do all the setup on a fresh clone: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HOST   ?= 127.0.0.1
PORT   ?= 8000
# every optional part, as measured together in requirements.lock (pyproject.toml names each)
EXTRAS ?= ui,llm,st,postgres,bench,dev

.PHONY: sysdeps install run index samples serve test reliability audit eval bench clean examples

# pip's output goes to $(VENV)/install.log (its tail is shown if it fails): on these machines
# pip warns about every configured index location that does not exist, hundreds of lines.
$(PY):
	@echo "make: creating $(VENV)"
	@$(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --upgrade pip > $(VENV)/install.log 2>&1 || { tail -40 $(VENV)/install.log; exit 1; }

# torch first: on these machines pip takes the CPU wheel from disk for this exact pin;
# any other spec would pull a multi-GB CUDA build.
$(STAMP): pyproject.toml requirements.lock | $(PY)
	@echo "make: installing PyTorch (CPU) and the locked dependencies into $(VENV): about 3 GB, a few minutes the first time (log: $(VENV)/install.log)"
	@$(PY) -m pip install torch==2.13.0 >> $(VENV)/install.log 2>&1 || { tail -40 $(VENV)/install.log; exit 1; }
	@$(PY) -m pip install -c requirements.lock -e '.[$(EXTRAS)]' >> $(VENV)/install.log 2>&1 || { tail -40 $(VENV)/install.log; exit 1; }
	@touch $(STAMP)
	@echo "make: installed"

install: $(STAMP)

index: install
	$(VENV)/bin/copilot index

# sample customer histories for the inbox and summaries (idempotent: ids are upserted)
samples: install
	$(VENV)/bin/copilot customers import samples/customers.jsonl

serve: install
	$(VENV)/bin/copilot serve --host $(HOST) --port $(PORT)

run: index samples serve

# pytest exit code 5 means "no tests collected": treat it as a failure, never as a pass.
sysdeps:
	@bash scripts/sysdeps.sh

# the default suite leaves out the fault-injection loops (marker `reliability`); CI runs them too
test: install sysdeps
	@$(PY) -m pytest -m "not reliability" $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make test: pytest collected no tests; failing on purpose" >&2; exit 1; fi; \
	exit $$rc

# kill -9 loops (20 re-index kills, 20 API kills during approvals) and a 4-minute soak during
# re-indexes (about 9 minutes in all); figures in docs/reliability.md
reliability: install sysdeps
	@$(PY) -m pytest -m reliability -s $(PYTEST_ARGS); rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "make reliability: pytest collected no tests; failing on purpose" >&2; exit 1; fi; \
	exit $$rc

# known advisories in requirements.lock (pip freeze of the venv); exit 3 when no advisory
# service can be reached, which pip-audit alone would report as "no known vulnerabilities"
audit: install
	$(PY) scripts/audit.py

# the eval suite and its gate (exit 1 when it fails); reports under var/evals/
eval: index
	$(VENV)/bin/copilot eval

# regenerate docs/examples.md from samples/example_tickets.yaml with the default stack
examples: index samples
	$(PY) scripts/make_examples.py

# all seven benchmarks; rewrites docs/benchmarks.md (about 17 minutes on 2 cores)
bench: install
	$(PY) -m benchmarks

clean:
	rm -rf var .pytest_cache
