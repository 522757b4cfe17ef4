# The entry points of the README. `demo` and `test` set the development
# environment up first (tools/setup_env.sh is idempotent: about a minute once
# it has run before).
PYTHON := .venv/bin/python
# Entries of the support matrix that CI runs (the optimizer lanes on the
# oldest stacks, and every lane but ReID on the OpenMMLab floors: mmengine
# 0.8.0, mmcv 2.0.1, mmdet 3.0.0); `make compat` runs every entry.
COMPAT_CI_ENTRIES := py38-torch2.0 py310-torch2.1 py38-torch2.0-mmdet3.0

.PHONY: setup demo test test-fast compat compat-ci docs docs-figures

setup:
	bash tools/setup_env.sh

# Train Faster R-CNN on the built-in dataset with SGD and with SGD_GC, then
# print the COCO AP comparison and write the plots.
demo: setup
	$(PYTHON) tools/generate_toy_data.py
	$(PYTHON) tools/compare.py \
		configs/toy/faster-rcnn_toy-r18_fpn_1x_toycoco.py \
		configs/toy/faster-rcnn_toy-r18_fpn_gc_1x_toycoco.py \
		--work-dir work_dirs/compare_toy --jobs 2

test: setup
	$(PYTHON) -m pytest tests

# The fast lane, the tests marked `fast` (optimizers, kernels, constructor,
# compat, metrics, configs, tools): under 90 s on 2 cores, where the full
# suite takes several minutes. Sets up only when there is no venv yet (a full
# setup check takes a minute).
test-fast: | $(PYTHON)
	$(PYTHON) -m pytest -q -m fast tests

$(PYTHON):
	bash tools/setup_env.sh

# mmgc installed into user-like environments (Python 3.8-3.12, torch
# 2.0-2.14, ...), each running the test lanes it supports; prints the table
# and writes it to docs/en/_generated/support_matrix.md.
compat:
	python3 tools/compat_matrix.py

compat-ci:
	python3 tools/compat_matrix.py --remove-envs --entries $(COMPAT_CI_ENTRIES)

# The documentation site (docs/en, Sphinx + MyST): warnings are errors (a
# broken cross-reference, an unknown directive, a missing page), then every
# internal link of the built HTML must resolve. Output: docs/_build/html.
docs: | $(PYTHON)
	$(PYTHON) -m sphinx -W --keep-going -q -b html docs/en docs/_build/html
	$(PYTHON) tools/check_docs_links.py docs/_build/html

# Measure again what the documentation shows (docs/en/_generated/, each file
# with its command and machine), then copy the figures into the README.
# Minutes on a 2-core CPU; the comparisons of the task pages are separate
# (tools/compare.py --out, see docs/en/compare.md).
docs-figures: | $(PYTHON)
	MMGC_FIGURES_DIR=docs/en/_generated $(PYTHON) -m pytest -q \
		tests/test_sharded_gc.py -k sharded_equals_unsharded
	MMGC_FIGURES_DIR=docs/en/_generated $(PYTHON) -m pytest -q \
		tests/test_deepspeed.py -k zero_equals_unsharded
	$(PYTHON) tools/import_time.py --out docs/en/_generated/import_time
	$(PYTHON) tools/benchmark_optimizers.py --repeats 5 --warmup 1 \
		--out docs/en/_generated/benchmark_optimizers
	$(PYTHON) tools/benchmark_training.py --iters 4 --warmup 1 \
		--out docs/en/_generated/benchmark_training
	$(PYTHON) tools/docs_figures.py

