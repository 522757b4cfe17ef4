"""Baseline against GC: the logic behind ``tools/compare.py``.

- :mod:`.runs` reads finished runs (mmengine's ``vis_data/scalars.json``)
  and finds them in work dirs; the metric sets the table knows.
- :mod:`.table` pairs runs by seed and builds the paper-format table
  (mean ± std over seeds, the paired change from the baseline).
- :mod:`.plots` draws the loss and metric curves (needs matplotlib).
- :mod:`.training` plans and launches the training runs with
  ``tools/train.py``, several at a time, and reports their progress.
"""
from .plots import plot_losses, plot_metrics
from .runs import DERIVED_ERRORS, METRIC_SETS, Run, find_runs, read_run
from .table import (build_table, format_per_seed, format_table, mean_std,
                    metric_columns, pair_by_seed, unpaired_seeds)
from .training import (TrainTask, collect_runs, format_duration, log,
                       plan_runs, run_tasks)

__all__ = [
    'DERIVED_ERRORS', 'METRIC_SETS', 'Run', 'TrainTask', 'build_table',
    'collect_runs', 'find_runs', 'format_duration', 'format_per_seed',
    'format_table', 'log', 'mean_std', 'metric_columns', 'pair_by_seed',
    'plan_runs', 'plot_losses', 'plot_metrics', 'read_run', 'run_tasks',
    'unpaired_seeds'
]
