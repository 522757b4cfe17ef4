"""Check the internal links of the built documentation.

Every relative link in every page of the built HTML (``href``/``src`` that is
not an external URL) must name a file that exists, and its ``#anchor`` an
``id`` in that file. External links are not followed (the build machines
have no network). Exit status 1 with one line per broken link.

Usage::

    python tools/check_docs_links.py docs/_build/html
"""
import argparse
import sys
from html.parser import HTMLParser
from pathlib import Path
from typing import Dict, List, Set, Tuple
from urllib.parse import unquote, urlsplit


class _Page(HTMLParser):

    def __init__(self):
        super().__init__()
        self.ids: Set[str] = set()
        self.links: List[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if attrs.get('id'):
            self.ids.add(attrs['id'])
        if tag == 'a' and attrs.get('name'):
            self.ids.add(attrs['name'])
        for key in ('href', 'src'):
            if attrs.get(key):
                self.links.append(attrs[key])


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding='utf-8'))
    return page


def broken_links(root: Path) -> List[Tuple[str, str, str]]:
    """(page, link, why) for every internal link that does not resolve."""
    pages: Dict[Path, _Page] = {
        p.resolve(): _parse(p) for p in root.rglob('*.html')
    }
    broken = []
    for path, page in sorted(pages.items()):
        for link in page.links:
            parts = urlsplit(link)
            if parts.scheme or parts.netloc or link.startswith('mailto:'):
                continue  # external: not checked here
            target = (path.parent / unquote(parts.path)).resolve() \
                if parts.path else path
            if target.is_dir():
                target = target / 'index.html'
            where = str(path.relative_to(root.resolve()))
            if not target.exists():
                broken.append((where, link, 'no such file'))
                continue
            if parts.fragment and target.suffix == '.html':
                ids = pages[target].ids if target in pages else set()
                if unquote(parts.fragment) not in ids:
                    broken.append((where, link, 'no such anchor'))
    return broken


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('html_dir', type=Path)
    args = parser.parse_args(argv)
    if not (args.html_dir / 'index.html').exists():
        print(f'{args.html_dir} holds no built documentation (no index.html);'
              ' build it first: make docs')
        return 1
    broken = broken_links(args.html_dir)
    for page, link, why in broken:
        print(f'{page}: {link} ({why})')
    checked = sum(1 for _ in args.html_dir.rglob('*.html'))
    print(f'internal links of {checked} pages: '
          f'{len(broken)} broken' if broken else
          f'internal links of {checked} pages: all resolve')
    return 1 if broken else 0


if __name__ == '__main__':
    sys.exit(main())
