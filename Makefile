# The two README commands (make report, make test) and helpers:
#   make report   -> the main job: the HTML report on the bundled data (report/commonfactors_report.html)
#   make test     -> the whole test suite, notebooks included (nbval), the wheel and docs checks
#   make docs     -> the documentation site (docs/_build/html), failing on any warning
# Each creates its own virtual environment (.venv) and installs what it needs.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: report test data bench lint clean notebooks docs

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,dask,docs]"
	$(PY) -m ipykernel install --prefix $(VENV) --name python3 > /dev/null
	touch $(STAMP)

report: $(STAMP)
	$(VENV)/bin/commonfactors report --out report

test: $(STAMP)
	$(PY) -m pytest tests notebooks --nbval-lax --nbval-sanitize-with notebooks/sanitize.cfg -p no:cacheprovider

data: $(STAMP)
	$(PY) tools/make_synthetic.py

notebooks: $(STAMP)
	$(PY) tools/run_notebooks.py

bench: $(STAMP)
	$(PY) bench/fit_vs_r.py
	$(PY) bench/decompose_speed.py

docs: $(STAMP)
	rm -rf docs/_build/html
	$(PY) -m sphinx -W --keep-going -b html docs docs/_build/html

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests bench tools
	$(VENV)/bin/mypy

clean:
	rm -rf $(VENV) report .pytest_cache docs/_build docs/_generated docs/api
