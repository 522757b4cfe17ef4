"""Copy the measured figures into the README.

The documentation includes the result files the tools write
(``docs/en/_generated/<name>.md``: the table, the command that produced it
and the machine). The README, which GitHub shows without includes, carries
copies between marker lines::

    <!-- figure: compare_digits_cls -->
    ... (written by this tool) ...
    <!-- end figure -->

``python tools/docs_figures.py`` rewrites every such block from its file;
``--check`` only reports blocks that differ (the test suite runs it, so a
figure in the README is never edited by hand).
"""
import argparse
import re
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
GENERATED = REPO / 'docs' / 'en' / '_generated'
BLOCK = re.compile(r'(<!-- figure: ([\w.-]+) -->\n)(.*?)(<!-- end figure -->)',
                   re.S)


def render(text: str) -> str:
    """``text`` with every figure block replaced by its file's content."""

    def fill(match):
        source = GENERATED / f'{match.group(2)}.md'
        if not source.exists():
            raise FileNotFoundError(
                f'README names the figure {match.group(2)!r}, but '
                f'{source.relative_to(REPO)} does not exist; run the command '
                'that writes it (see make docs-figures).')
        return match.group(1) + source.read_text().rstrip() + '\n' + \
            match.group(4)

    return BLOCK.sub(fill, text)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--check', action='store_true',
                        help='change nothing; exit 1 if a block is stale')
    parser.add_argument('files', nargs='*', type=Path,
                        default=[REPO / 'README.md'])
    args = parser.parse_args(argv)
    stale = []
    for path in args.files:
        text = path.read_text()
        new = render(text)
        if new == text:
            continue
        if args.check:
            stale.append(path)
        else:
            path.write_text(new)
            print(f'updated the figures in {path.relative_to(REPO)}')
    for path in stale:
        print(f'{path.relative_to(REPO)}: a figure block differs from its '
              'file in docs/en/_generated; run python tools/docs_figures.py')
    return 1 if stale else 0


if __name__ == '__main__':
    sys.exit(main())
