"""Result files of the measuring tools, for the documentation to include.

The benchmarks, the import-time tool and the comparisons write what they
measured to ``<stem>.json`` (the numbers) and ``<stem>.md`` (a page fragment
with the table, the command that produced it and the machine it ran on), so
no figure in the documentation is typed in by hand. ``make docs-figures``
regenerates them.
"""
import datetime
import json
import os
import platform
import shlex
import sys
from pathlib import Path
from typing import Optional

import torch

__all__ = ['machine_summary', 'write_result_files']


def _cpu_model() -> str:
    try:
        with open('/proc/cpuinfo') as f:
            for line in f:
                if line.startswith('model name'):
                    return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_summary(device: Optional[str] = None) -> str:
    """One line: CPU model and cores (or the GPU), OS, Python and torch."""
    if device and device.startswith('cuda') and torch.cuda.is_available():
        hardware = torch.cuda.get_device_name(torch.device(device))
    else:
        hardware = (f'{_cpu_model()}, {os.cpu_count()} cores, '
                    f'{torch.get_num_threads()} torch threads')
    return (f'{hardware}; {platform.system()} {platform.machine()}, '
            f'Python {platform.python_version()}, torch {torch.__version__}')


def write_result_files(stem, *, title: str, table: str, data,
                       device: Optional[str] = None,
                       note: str = '') -> None:
    """Write ``stem.md`` (``title``, how it was made, ``table`` as
    preformatted text, ``note``) and ``stem.json`` (``data`` and the same
    provenance)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    command = 'python ' + ' '.join(
        shlex.quote(arg) for arg in _program() + sys.argv[1:])
    provenance = dict(command=command, machine=machine_summary(device),
                      date=datetime.date.today().isoformat())
    lines = [
        f'**{title}.** Produced by `{command}` on {provenance["machine"]}, '
        f'{provenance["date"]}.', '', '```text', table.rstrip(), '```', ''
    ]
    if note:
        lines += [note.rstrip(), '']
    stem.with_suffix('.md').write_text('\n'.join(lines))
    stem.with_suffix('.json').write_text(
        json.dumps(dict(provenance, results=data), indent=1) + '\n')


def _program() -> list:
    """How the running program was started: ``['-m', 'pytest']`` for a
    package run with ``python -m``, else the script's relative path."""
    path = Path(sys.argv[0])
    if path.name == '__main__.py':
        return ['-m', path.parent.name]
    return [_relative(sys.argv[0])]


def _relative(path: str) -> str:
    try:
        return os.path.relpath(path)
    except ValueError:
        return path
