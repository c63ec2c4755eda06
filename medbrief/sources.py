"""Where articles come from: local paths, or URLs of any filesystem fsspec knows.

A source is a string: a local path, or a URL such as ``s3://bucket/key.html`` or
``file:///data/a.txt`` (read through fsspec, installed with the ``dask`` extra, plus the
filesystem's own package, e.g. ``s3fs``). Batch tagging and the Dask workers read sources
with the same function, so their records and error records are the same.
"""

from __future__ import annotations

import heapq
import logging
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from medbrief.engine import Analyzer, Article
from medbrief.errors import InputError, InputTooLarge, MedbriefError
from medbrief.ingest import SUFFIX_FORMATS, format_for_path, read_article

log = logging.getLogger(__name__)


def is_url(source: str) -> bool:
    """Whether a source names a file through an fsspec protocol (``s3://``, ``file://``...)."""
    return "://" in source or "::" in source


def _fsspec() -> Any:
    try:
        import fsspec
    except ImportError as exc:
        raise MedbriefError(
            "reading URLs needs fsspec: pip install 'medbrief[dask]' (and the filesystem's "
            "package, e.g. s3fs)"
        ) from exc
    return fsspec


def read_source(analyzer: Analyzer, source: str) -> Article:
    """Read a local path, or a URL through fsspec; InputError when it cannot be read."""
    if not is_url(source):
        return analyzer.read_path(Path(source))
    limit = analyzer.max_bytes
    try:
        with _fsspec().open(source, "rb") as handle:
            data = handle.read(limit + 1)
    except (OSError, ValueError) as exc:
        raise InputError(f"{source}: cannot read ({exc})") from exc
    if len(data) > limit:
        raise InputTooLarge(f"{source}: article too large (the limit is {limit} bytes)")
    name = PurePosixPath(urlsplit(source.rsplit("::", 1)[-1]).path)
    document = read_article(
        data, format_for_path(Path(name.name)), source, limit, analyzer.max_paragraphs
    )
    return Article(document, name.stem, source)


def find_articles(paths: Iterable[Path]) -> Iterator[Path]:
    """Article files under the given files and folders (recursively), each once, in sorted
    path order (the order of ``sorted(paths)``), streamed: folders are read one directory
    at a time, so memory follows the largest directory, not the number of files. A path
    that is not a folder is given back as it is, even if it does not exist."""
    roots = sorted(set(paths))
    streams = [_walk(root) if root.is_dir() else iter((root,)) for root in roots]
    previous: Path | None = None
    for path in heapq.merge(*streams):  # folders given inside other folders: found twice
        if path != previous:
            yield path
            previous = path


def _is_article(name: str) -> bool:
    """Whether a file name (or a URL's path) has the suffix of an article medbrief reads."""
    return PurePosixPath(name).suffix.lower() in SUFFIX_FORMATS


def _entry(entry: os.DirEntry[str]) -> tuple[str, bool] | None:
    """A directory entry worth walking: ``(name, is a folder)``, or None. Anything else with
    an article's name is kept whatever it turns out to be (a link in a loop, a FIFO, a
    device): reading it gives an error record naming it, and one bad entry never hides
    the others."""
    if entry.is_dir(follow_symlinks=False):
        return entry.name, True
    return (entry.name, False) if _is_article(entry.name) else None


def _walk(folder: Path) -> Iterator[Path]:
    """Article files under a folder, depth first through each directory's entries sorted by
    name (which is sorted path order). Links to folders are not followed, as ``rglob``;
    a directory that cannot be listed is skipped with a warning."""
    try:
        with os.scandir(folder) as listing:
            entries = sorted(filter(None, map(_entry, listing)))
    except OSError as exc:
        log.warning("%s: cannot list (%s); skipped", folder, exc)
        return
    for name, is_dir in entries:
        path = folder / name
        if is_dir:
            yield from _walk(path)
        else:
            yield path


@dataclass(frozen=True)
class Sources:
    """What ``find_sources`` found. Iterating gives every article: the files under the
    local paths (walked anew each time, in sorted path order, streamed), then the URLs
    (listed once, sorted). ``missing`` are the local paths that do not exist."""

    local: tuple[Path, ...]
    remote: tuple[str, ...]
    missing: tuple[str, ...]

    def __iter__(self) -> Iterator[str]:
        return chain(map(str, find_articles(self.local)), self.remote)


def find_sources(sources: Iterable[str]) -> Sources:
    """The articles under local paths and fsspec URLs (see ``Sources``).

    A URL naming a folder is searched recursively for article suffixes. URLs are listed
    here, so an unreachable one fails before any work.
    """
    local: set[Path] = set()
    remote: set[str] = set()
    for source in sources:
        if not is_url(source):
            local.add(Path(source))
            continue
        try:
            fs, path = _fsspec().core.url_to_fs(source)
            if fs.isdir(path):
                remote.update(
                    fs.unstrip_protocol(p) for p in fs.find(path) if _is_article(p)
                )
            else:
                remote.add(source)
        except (OSError, ValueError, ImportError) as exc:
            raise MedbriefError(f"{source}: cannot list ({exc})") from exc
    missing = sorted(path for path in local if not path.exists())
    return Sources(
        tuple(sorted(local - set(missing))), tuple(sorted(remote)), tuple(map(str, missing))
    )
