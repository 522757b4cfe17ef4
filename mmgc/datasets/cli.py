"""The command line that the dataset generators in tools/ share: an output
folder under data/, the generator's settings and --overwrite; progress and
errors are printed under the tool's tag."""
import argparse
import sys
import time
from pathlib import Path
from typing import Callable, Dict

OVERWRITE_HELP = ('replace data written earlier, with other settings or the '
                  'same (to repair damaged files)')


def generator_parser(description: str, repo_root: Path, data_name: str,
                     options: Dict[str, dict]) -> argparse.ArgumentParser:
    """A parser with --out-dir (default: ``data/<data_name>`` in the
    repository), the generator's ``options`` (flag -> keyword arguments of
    ``add_argument``), then --overwrite."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        '--out-dir',
        default=str(repo_root / 'data' / data_name),
        help=f'output folder (default: data/{data_name} in the repository)')
    for flag, keywords in options.items():
        parser.add_argument(flag, **keywords)
    parser.add_argument('--overwrite', action='store_true',
                        help=OVERWRITE_HELP)
    return parser


def run_generator(tag: str,
                  generate: Callable[[Callable[[str], None]],
                                     Dict[str, Path]],
                  summary: str = '') -> None:
    """Call ``generate(progress)`` and print its messages as ``[tag] ...``.

    An error the user can fix (a folder it must not replace, an output
    folder that is a file, a missing source, bad settings, a file system
    that refuses to write) ends the process with its message, without a
    traceback; success prints the time, ``summary`` and the annotation
    files.
    """
    start = time.monotonic()
    try:
        ann_files = generate(
            lambda message: print(f'[{tag}] {message}', flush=True))
    except (OSError, ValueError) as error:
        # OSError: FileExistsError, FileNotFoundError and what the file
        # system refuses (permissions, a full disk); its text names the path.
        sys.exit(f'[{tag}] error: {error}')
    print(f'[{tag}] done in {time.monotonic() - start:.1f}s: {summary}'
          f'{ann_files["train"]} and {ann_files["val"]}')
