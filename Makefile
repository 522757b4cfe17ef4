# The two entry points of the README. Both set the environment up first
# (tools/setup_env.sh is idempotent: about a minute once it has run before).
PYTHON := .venv/bin/python

.PHONY: setup demo test

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
