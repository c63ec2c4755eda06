"""Where articles come from: local paths, or URLs of any filesystem fsspec knows.

A source is a string: a local path, or a URL such as ``s3://bucket/key.html`` or
``file:///data/a.txt`` (read through fsspec, installed with the ``dask`` extra, plus the
filesystem's own package, e.g. ``s3fs``). Batch tagging and the Dask workers read sources
with the same function, so their records and error records are the same.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from medbrief.engine import Analyzer, Article
from medbrief.errors import InputError, MedbriefError
from medbrief.ingest import SUFFIX_FORMATS, format_for_path, read_article


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
        raise InputError(f"{source}: article too large (the limit is {limit} bytes)")
    name = PurePosixPath(urlsplit(source.rsplit("::", 1)[-1]).path)
    document = read_article(data, format_for_path(Path(name.name)), name=source, max_bytes=limit)
    return Article(document, name.stem, source)


def find_articles(paths: Iterable[Path]) -> list[Path]:
    """Article files under the given files and folders (recursively), sorted, no repeats."""
    found: set[Path] = set()
    for path in paths:
        if path.is_dir():
            found.update(
                p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIX_FORMATS
            )
        else:
            found.add(path)
    return sorted(found)


def find_sources(sources: Iterable[str]) -> list[str]:
    """Article files under local paths (sorted, as ``find_articles``) and fsspec URLs.

    A URL naming a folder is searched recursively for article suffixes. Local paths come
    first; then URLs, sorted.
    """
    local: list[Path] = []
    remote: set[str] = set()
    for source in sources:
        if not is_url(source):
            local.append(Path(source))
            continue
        try:
            fs, path = _fsspec().core.url_to_fs(source)
            if fs.isdir(path):
                remote.update(
                    fs.unstrip_protocol(p) for p in fs.find(path)
                    if PurePosixPath(p).suffix.lower() in SUFFIX_FORMATS
                )
            else:
                remote.add(source)
        except (OSError, ValueError, ImportError) as exc:
            raise MedbriefError(f"{source}: cannot list ({exc})") from exc
    return [str(p) for p in find_articles(local)] + sorted(remote)
