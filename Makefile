# Set-up and everyday commands. Each target creates its own virtual
# environment in .venv on first use; a stamp file makes later runs fast.
#
#   make demo    install, then run the whole restoration demo (archivist demo) into demo-output
#   make test    install, then ruff, mypy (package model and verify) and the whole test suite,
#                on two pytest-xdist worker processes, each test file kept on one worker
#   make bench   install, then run every benchmark at its default size

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARCHIVIST := $(VENV)/bin/archivist

DEMO        := demo-output

.PHONY: demo test bench clean distclean

# torch is installed first and pinned: an unpinned torch resolves to the
# CUDA build and pulls several GB of GPU libraries the project does not need.
$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet torch==2.13.0
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(PY) -m mypy
	$(PY) -m pytest -q --durations=15 -n 2 --dist loadfile --no-loadscope-reorder

# The main job on bundled material: faded print and DVD made from a
# scikit-image photograph, then init, add, dataset, train, export, infer with
# Content Credentials, qc, seal, verify and report (docs/demo.md).
demo: $(STAMP)
	rm -rf $(DEMO)
	$(ARCHIVIST) demo $(DEMO)

# Every benchmark at its default size, one after another (they time CPU work,
# so running them in parallel would spoil each other's figures).
bench: $(STAMP)
	@set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(DEMO)

distclean: clean
	rm -rf $(VENV)
