"""The training runs of a comparison: planned, launched and watched.

Each run is a ``tools/train.py`` process (torchrun with ``gpus > 1``) that
trains one config with one seed into ``<work dir>/<config name>/seed_<seed>/``.
Before it trains, the folder gets a record of the resolved config
(:data:`.configs.RUN_RECORD`). A finished run is reused and an interrupted
one resumed, but only when it was trained with the same resolved config:
a folder trained with another is refused before anything trains. ``jobs``
runs train at once, sharing the CPU cores; their progress (iterations,
losses, evaluations) is printed as ``[compare] ...`` lines.
"""
import os
import re
import shlex
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

from .configs import (RecordedConfig, flat_config, folder_mismatch,
                      load_resolved, recorded_config,
                      refuse_mismatched_folders, run_record, with_seed,
                      write_run_record)
from .runs import Run, find_runs, read_run

# The checkout's tools/train.py; tools/compare.py passes its own neighbour.
TRAIN_SCRIPT = Path(__file__).resolve().parents[2] / 'tools' / 'train.py'
TRAIN_LOG_LINE = re.compile(
    r'Epoch\(train\)\s+\[(\d+)\]\[\s*(\d+)/(\d+)\].*?eta:\s*(\S+).*?'
    r'\sloss:\s*([-\d.]+)')
VAL_LOG_LINE = re.compile(r'Epoch\(val\)\s+\[(\d+)\]\[\s*\d+/\d+\]\s+(.*)$')
# Shown in the progress line of an evaluation: (key, name, scale).
PROGRESS_METRICS = (('coco/bbox_mAP', 'box AP', 100),
                    ('coco/segm_mAP', 'mask AP', 100),
                    ('reid/mAP', 'ReID mAP', 1),
                    ('reid/R1', 'R1', 1),
                    ('accuracy/top1', 'top-1', 1),
                    ('accuracy/top5', 'top-5', 1))

# Runs train in threads; one print at a time keeps their lines whole.
_PRINT_LOCK = threading.Lock()


def log(message: str) -> None:
    with _PRINT_LOCK:
        print(f'[compare] {message}', flush=True)


def format_duration(seconds: float) -> str:
    """``1h02m03s``, or ``2m03s`` under an hour."""
    seconds = int(round(seconds))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return (f'{hours}h{minutes:02d}m{seconds:02d}s'
            if hours else f'{minutes}m{seconds:02d}s')


@dataclass
class TrainTask:
    """One training run to do: a config with a seed, into run_dir."""
    config: Path
    run_dir: Path
    seed: int
    label: str
    max_epochs: Optional[int]
    index: int  # position among all tasks: picks a free torchrun port
    # The resolved config it trains, flattened, seed included.
    resolved: Optional[Dict[str, object]] = None


def max_epochs_of(config: Path,
                  cfg_options: Sequence[str]) -> Optional[int]:
    """``train_cfg.max_epochs`` of a config with the overrides applied."""
    cfg = load_resolved(config, cfg_options)
    return cfg.get('train_cfg', {}).get('max_epochs')


def run_dir_of(work_dir, config: Path, seed: int) -> Path:
    return Path(work_dir) / config.stem / f'seed_{seed}'


def plan_runs(sources: Sequence[str], names: Sequence[str],
              seeds: Sequence[int], work_dir, cfg_options: Sequence[str],
              gpus: int = 1) -> List[TrainTask]:
    """Training runs needed for the configs among ``sources`` (a source that
    is not a ``.py`` file is a finished work dir and needs none).

    Raises ValueError, before anything trains, when a run folder holds a run
    trained with another resolved config than the one planned for it.
    """
    configs = [Path(s) for s in sources if Path(s).suffix == '.py']
    if len(configs) == 2 and configs[0].stem == configs[1].stem:
        raise ValueError(
            f'Both configs are named {configs[0].stem}; their runs would '
            'share a folder. Rename one of them.')
    tasks, refused = [], []
    for source, label in zip(sources, names):
        path = Path(source)
        if path.suffix != '.py':
            continue
        if not path.is_file():
            raise FileNotFoundError(f'Config {source} does not exist.')
        cfg = load_resolved(path, cfg_options)
        max_epochs = cfg.get('train_cfg', {}).get('max_epochs')
        flat = flat_config(cfg)
        for seed in seeds:
            task = TrainTask(path, run_dir_of(work_dir, path, seed), seed,
                             label, max_epochs, len(tasks),
                             with_seed(flat, seed))
            mismatch = folder_mismatch(task.run_dir, task.resolved, gpus,
                                       cfg_options)
            if mismatch:
                refused.append(mismatch)
            tasks.append(task)
    refuse_mismatched_folders(refused)
    return tasks


def train_run(task: TrainTask, cfg_options: Sequence[str], gpus: int,
              python: str, threads: Optional[int],
              train_script: Path = TRAIN_SCRIPT) -> float:
    """Train one run in a subprocess, printing progress; returns seconds."""
    config, run_dir, seed, label = (task.config, task.run_dir, task.seed,
                                    task.label)
    max_epochs = task.max_epochs
    existing = read_run(run_dir) if run_dir.is_dir() else None
    if (existing and max_epochs is not None
            and existing.final_epoch == max_epochs):
        log(f'{label} seed {seed}: finished run found in {run_dir}, reusing '
            'it')
        return 0.0
    if task.resolved is not None:
        # Written before training, so an interrupted run is recorded too.
        write_run_record(run_dir, run_record(config, cfg_options, seed, gpus,
                                             task.resolved))
    run_dir.mkdir(parents=True, exist_ok=True)
    command = [python]
    if gpus > 1:
        command += [
            '-m', 'torch.distributed.run', f'--nproc_per_node={gpus}',
            f'--master_port={29500 + task.index}'
        ]
    command += [
        str(train_script),
        str(config), '--work-dir',
        str(run_dir), '--cfg-options', *cfg_options,
        f'randomness.seed={seed}'  # last: the seed of this run wins
    ]
    if gpus > 1:
        command += ['--launcher', 'pytorch']
    if (run_dir / 'last_checkpoint').is_file():
        command.append('--resume')
        log(f'{label} seed {seed}: resuming the interrupted run in {run_dir}')
    output_file = run_dir / 'train_output.log'
    log(f'{label} seed {seed}: training {config} (output: {output_file})')
    start = time.monotonic()
    # The checkout holding train.py, so its processes import this mmgc.
    repo_root = str(Path(train_script).resolve().parents[1])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        filter(None, [repo_root, os.environ.get('PYTHONPATH')])))
    if threads is not None:
        env['OMP_NUM_THREADS'] = str(threads)
    with open(output_file, 'a') as output:
        output.write(f'$ {shlex.join(command)}\n')
        process = subprocess.Popen(
            command,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
            env=env)
        assert process.stdout is not None
        for line in process.stdout:
            output.write(line)
            report_progress(line, label, seed, max_epochs, start)
        returncode = process.wait()
    if returncode != 0:
        tail = output_file.read_text(errors='replace').splitlines()[-30:]
        print('\n'.join(tail), file=sys.stderr)
        raise RuntimeError(
            f'Training {label} (seed {seed}) failed with exit code '
            f'{returncode}; the last lines are above, the whole output is in '
            f'{output_file}.')
    elapsed = time.monotonic() - start
    log(f'{label} seed {seed}: done in {format_duration(elapsed)}')
    return elapsed


def report_progress(line: str, label: str, seed: int,
                    max_epochs: Optional[int], start: float) -> None:
    """A ``[compare]`` line for a training log line that shows progress: an
    iteration's loss, an epoch's evaluation, or a crash."""
    train = TRAIN_LOG_LINE.search(line)
    if train:
        epoch, iteration, iters, eta, loss = train.groups()
        total = f'/{max_epochs}' if max_epochs else ''
        log(f'{label} seed {seed}: epoch {epoch}{total} iter '
            f'{iteration}/{iters} loss {float(loss):.3f} '
            f'(elapsed {format_duration(time.monotonic() - start)}, '
            f'run ETA {eta})')
        return
    val = VAL_LOG_LINE.search(line)
    # Only the epoch's last val line carries metrics (keys like coco/...).
    if val and re.search(r'\w/\w+:', val.group(2)):
        epoch, rest = val.groups()
        shown = []
        for key, name, scale in PROGRESS_METRICS:
            found = re.search(re.escape(key) + r':\s*([-\d.]+)', rest)
            if found:
                shown.append(f'{name} {float(found.group(1)) * scale:.1f}')
        log(f'{label} seed {seed}: epoch {epoch} evaluated: ' +
            (', '.join(shown) or rest.strip()[:120]))
    elif 'Traceback (most recent call last)' in line:
        log(f'{label} seed {seed}: the training process raised an error '
            '(details follow when it exits)')


def cpu_count() -> int:
    """Cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_tasks(tasks: List[TrainTask], cfg_options: Sequence[str],
              jobs: int = 1, gpus: int = 1, python: str = sys.executable,
              train_script: Path = TRAIN_SCRIPT
              ) -> List[Tuple[str, int, float]]:
    """Train all tasks, ``jobs`` at a time; (label, seed, seconds) each."""
    threads = None
    if jobs > 1:
        if 'OMP_NUM_THREADS' in os.environ:
            log(f'training {jobs} runs at a time, OMP_NUM_THREADS='
                f'{os.environ["OMP_NUM_THREADS"]} (from the environment)')
        else:
            # Share the cores instead of letting every process take all of
            # them (oversubscribed OpenMP threads slow CPU training down
            # many times).
            threads = max(1, cpu_count() // jobs)
            log(f'training {jobs} runs at a time, {threads} thread(s) each')

    def train(task):
        return (task.label, task.seed,
                train_run(task, cfg_options, gpus, python, threads,
                          train_script))

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(train, task) for task in tasks]
        results, errors = [], []
        for future in futures:
            try:
                results.append(future.result())
            except RuntimeError as error:
                errors.append(str(error))
    if errors:
        raise RuntimeError('\n'.join(errors))
    return results


def collect_runs(source: str, tasks: Sequence[TrainTask]) -> List[Run]:
    """Finished runs of one side: the trained seeds of a config, or what a
    given work dir holds."""
    path = Path(source)
    if path.suffix != '.py':
        return find_runs(path)
    mine = [t for t in tasks if t.config == path]
    runs = [read_run(t.run_dir) for t in mine]
    max_epochs = mine[0].max_epochs
    unfinished = [str(r.path) for r in runs if r.final_epoch != max_epochs]
    if max_epochs is not None and unfinished:
        raise RuntimeError(
            f'These runs ended before epoch {max_epochs}: {unfinished}.')
    return runs


def source_config(source: str,
                  tasks: Sequence[TrainTask]) -> Optional[RecordedConfig]:
    """What one side is trained with: the config planned for a config file,
    else what the first run of a work dir recorded; None when a work dir
    records nothing."""
    path = Path(source)
    if path.suffix == '.py':
        mine = [t for t in tasks if t.config == path]
        return RecordedConfig(mine[0].resolved, source) if mine else None
    return recorded_config(find_runs(path)[0].path)
