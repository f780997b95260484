# Pruning to Remember
#   make book                     build the HTML book from stored outputs into _build/html
#   make publish                  make test, then make book, then push _build/html to the gh-pages
#                                 branch of $(PUBLISH_REMOTE) with ghp-import (nothing if a test fails)
#   make test                     unit tests + every chapter at smoke scale + a book build
#   make run NB=... ARGS=...      run one chapter with papermill; the executed notebook, its records
#                                 and figures go to _build/runs/<chapter>/ (seeded with the committed
#                                 records, so runs at the committed scale are reused); nothing
#                                 committed is touched
#   make gpu-batch [BUDGET=480]    on a GPU machine: the queued paper-scale runs, new records in one archive
#                                 (back here: python -m cl_utils.gpu_batch import ARCHIVE)
#   make reproduce [NB=...] [ARGS=...]  train each chapter's pending runs at its committed scale with
#                                 python -m cl_utils.reproduce --in-place (ARGS: e.g. --budget 3600 --device cuda),
#                                 then re-execute the notebook in place: it draws from the records. The only
#                                 target that writes the committed data/results/ (every other run writes
#                                 under _build/runs/, seeded with the committed records)
# Each target creates the virtual environment in $(VENV) first if it is missing; make book uses
# $(BOOK_VENV), with Jupyter Book only.
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
BOOK_VENV ?= .venv-book
BOOK_STAMP := $(BOOK_VENV)/.installed
PUBLISH_REMOTE ?= origin
PUBLISH_TEST ?= $(MAKE) test
PUBLISH_BUILD ?= $(MAKE) book
NB ?=
# a PyTorch wheel index to take torch from first (e.g. https://download.pytorch.org/whl/cpu, the CPU build);
# empty: torch comes from PyPI with everything else
TORCH_INDEX ?=
ARGS ?=
CH := $(basename $(notdir $(NB)))
RUN_DIR ?= _build/runs/$(CH)

.PHONY: env book test publish run reproduce benchmark gpu-batch clean

env: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(if $(TORCH_INDEX),$(BIN)/python -m pip install --quiet torch --index-url $(TORCH_INDEX))
	$(BIN)/python -m pip install --quiet -e '.[book,test]' -c constraints.txt
	@touch $@

# the book needs Jupyter Book only (the docs group of pyproject.toml), not torch: its own environment
$(BOOK_STAMP): pyproject.toml constraints.txt
	@test -x $(BOOK_VENV)/bin/python || $(PYTHON) -m venv $(BOOK_VENV)
	$(BOOK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BOOK_VENV)/bin/python -m pip install --quiet --group docs -c constraints.txt
	@touch $@

# the repository a built copy points at (badges, buttons, clone commands): BOOK_REPOSITORY=OWNER/NAME, by
# default the origin remote's when it is on GitHub (book/_ext/repository_address.py; empty: _config.yml's)
BOOK_REPOSITORY ?= $(shell $(PYTHON) cl_utils/repository.py --origin 2>/dev/null)

book: $(BOOK_STAMP)
	BOOK_REPOSITORY=$(BOOK_REPOSITORY) $(BOOK_VENV)/bin/jupyter-book build . --builder html -W --keep-going

# one pytest worker per core (pytest-xdist); a worker takes the next test when it is free, so the slow
# notebook runs spread over the cores
test: $(STAMP)
	$(BIN)/python -m pytest tests -n auto --dist worksteal --durations=25

publish: $(STAMP) $(BOOK_STAMP)
	$(PUBLISH_TEST)
	$(PUBLISH_BUILD)
	$(BOOK_VENV)/bin/ghp-import --no-jekyll --push --force --remote $(PUBLISH_REMOTE) --branch gh-pages \
		--message "Book built from $$(git rev-parse --short HEAD)" _build/html
	@echo "published _build/html to the gh-pages branch of $(PUBLISH_REMOTE)"

run: $(STAMP)
	@test -n "$(NB)" || { echo "usage: make run NB=book/00_forgetting.ipynb ARGS=\"-p num_epochs 2 -p seeds '[0, 1]'\""; exit 2; }
	@mkdir -p $(RUN_DIR)/results
	@if [ -d data/results/$(CH) ] && [ ! -d $(RUN_DIR)/results/$(CH) ]; then cp -r data/results/$(CH) $(RUN_DIR)/results/; fi
	$(BIN)/papermill $(NB) $(RUN_DIR)/$(notdir $(NB)) -k python3 -p results_dir $(abspath $(RUN_DIR))/results -p train True $(ARGS)
	@echo "executed notebook: $(RUN_DIR)/$(notdir $(NB)); records and figures: $(RUN_DIR)/results/$(CH)"

reproduce: $(STAMP)
	@for nb in $${NB:-$$($(BIN)/python -c "import yaml; import os; print(' '.join(c['file'] + '.ipynb' for c in yaml.safe_load(open('_toc.yml'))['chapters'] if os.path.isfile(c['file'] + '.ipynb')))")}; do \
		ch=$$(basename $$nb .ipynb); \
		echo "== $$ch: runs at the committed preset (writes data/results/$$ch/)"; \
		$(BIN)/python -m cl_utils.reproduce $$ch --preset committed --in-place $(ARGS) || exit 1; \
		echo "== $$ch: the notebook, executed in place from those records"; \
		CL_PRESET=committed CL_RESULTS_DIR=$(abspath data/results) $(BIN)/papermill $$nb $$nb -k python3 || exit 1; \
	done
	$(BIN)/python -m cl_utils.claims  # the scorecard page, from every chapter's claims.csv

# on a GPU machine (torch is enough): the queue of book/params/gpu_queue.yaml within BUDGET seconds, one archive
gpu-batch:
	python3 -m cl_utils.gpu_batch run --budget $${BUDGET:-480} --grace 60 --device cuda --out $${OUT:-_build}/records.tar.gz

benchmark: $(STAMP)
	$(BIN)/python benchmarks/packnet_vs_plain.py
	$(BIN)/python benchmarks/train_loop.py
	$(BIN)/python benchmarks/packnet_step.py
	$(BIN)/python benchmarks/stacked_models.py
	$(BIN)/python benchmarks/stacked_seeds.py
	$(BIN)/python benchmarks/stacked_progressive.py
	$(BIN)/python benchmarks/stacked_clnp.py
	$(BIN)/python benchmarks/paper_scale.py
	$(BIN)/python benchmarks/cpu_numerics.py

clean:
	rm -rf _build
