# Set-up and everyday commands. Each target creates its own virtual
# environment in .venv on first use; a stamp file makes later runs fast.
#
#   make demo    install, then build and verify a package from example frames
#   make test    install, then run the whole test suite
#   make bench   install, then run every benchmark at its default size

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
ARCHIVIST := $(VENV)/bin/archivist

DEMO        := demo-output
DEMO_FRAMES := $(DEMO)/frames
DEMO_PKG    := $(DEMO)/package

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
	$(PY) -m pytest -q --durations=15

# The main job on bundled example material. Each step is one archivist
# command, so later stages (dataset, train, export, ...) are added as lines.
demo: $(STAMP)
	rm -rf $(DEMO)
	$(PY) examples/make_example_frames.py $(DEMO_FRAMES)
	$(ARCHIVIST) init $(DEMO_PKG) --title "Example pan (astronaut)" --organization "Example Film Archive" \
		--recovery chroma --description "Demonstration package built from scikit-image example photographs"
	$(ARCHIVIST) add $(DEMO_PKG) --role source --element print16 --description "16mm positive print" \
		--gauge 16mm --generation "release print" --colour-space "scene-linear Rec.709" --frame-rate 24 \
		--rights "Example material, no restrictions" --training-use authorised --authorised-by "Example Film Archive" \
		$(DEMO_FRAMES)/print16
	$(ARCHIVIST) add $(DEMO_PKG) --role reference --element dvd --description "PAL DVD 2003" \
		--colour-space "Rec.709" --frame-rate 25 \
		--rights "Example material, no restrictions" --training-use authorised --authorised-by "Example Film Archive" \
		$(DEMO_FRAMES)/dvd
	$(ARCHIVIST) info $(DEMO_PKG)
	$(ARCHIVIST) verify $(DEMO_PKG)
	@echo
	@echo "package written to $(abspath $(DEMO_PKG))"

# Every benchmark at its default size, one after another (they time CPU work,
# so running them in parallel would spoil each other's figures).
bench: $(STAMP)
	@set -e; for b in benchmarks/bench_*.py; do echo "== $$b"; $(PY) $$b; done

clean:
	rm -rf $(DEMO)

distclean: clean
	rm -rf $(VENV)
