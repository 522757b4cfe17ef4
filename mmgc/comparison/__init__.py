"""Baseline against GC: the logic behind ``tools/compare.py``.

- :mod:`.runs` reads finished runs (mmengine's ``vis_data/scalars.json``)
  and finds them in work dirs; the metric sets the table knows.
- :mod:`.configs` resolves, records and compares what runs were trained
  with: a run folder trained with another config is refused, and what a GC
  twin changes besides GC is named.
- :mod:`.table` pairs runs by seed and builds the paper-format table
  (mean ± std over seeds, the paired change from the baseline) with the
  paired statistics of :mod:`.stats` (mean delta, 95% interval, verdict).
- :mod:`.sweep` checks ``--sweep KEY=V1,V2,...`` and builds the table of
  a comparison at every value (the paper's Tables 3 and 4).
- :mod:`.plots` draws the loss and metric curves, the per-seed pairs, the
  gradient curves (the paper's Figure 4) and the sweep (needs matplotlib).
- :mod:`.training` plans and launches the training runs with
  ``tools/train.py``, several at a time, and reports their progress.
"""
from .configs import (check_cfg_options, check_run_folder, diff_configs,
                      flat_config, flatten, format_differences,
                      load_resolved, recorded_config, twin_differences)
from .plots import (plot_gradients, plot_losses, plot_metrics, plot_paired,
                    plot_sweep)
from .runs import DERIVED_ERRORS, METRIC_SETS, Run, find_runs, read_run
from .stats import lower_is_better, paired_stats, t_quantile_975
from .sweep import (check_sweep_key, format_sweep, parse_sweep, sweep_table,
                    value_folder)
from .table import (build_table, check_seed_pairs, format_per_seed,
                    format_table, mean_std, metric_columns, pair_by_seed,
                    unpaired_seeds)
from .training import (TrainTask, collect_runs, format_duration, log,
                       plan_runs, run_tasks)

__all__ = [
    'DERIVED_ERRORS', 'METRIC_SETS', 'Run', 'TrainTask', 'build_table',
    'check_cfg_options', 'check_run_folder', 'check_seed_pairs',
    'collect_runs', 'diff_configs', 'find_runs', 'flat_config', 'flatten',
    'format_differences', 'format_duration', 'format_per_seed',
    'format_table', 'load_resolved', 'log', 'lower_is_better', 'mean_std',
    'metric_columns', 'pair_by_seed', 'paired_stats', 'plan_runs',
    'plot_gradients', 'plot_losses', 'plot_metrics', 'plot_paired',
    'plot_sweep', 'read_run', 'check_sweep_key', 'format_sweep',
    'parse_sweep', 'sweep_table', 'value_folder',
    'recorded_config', 'run_tasks', 't_quantile_975', 'twin_differences',
    'unpaired_seeds'
]
