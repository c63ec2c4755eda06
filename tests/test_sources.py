"""Finding articles in folders, and reading them as the work goes."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from medbrief.batch import CHUNK, tag_paths
from medbrief.engine import Options
from medbrief.ingest import SUFFIX_FORMATS
from medbrief.resume import prepare_resume
from medbrief.sources import find_articles, find_sources
from tests.conftest import SEEDS

# Names whose string order and path order differ ("a.txt" < "a/b.txt" as strings, but the
# folder "a" comes first as a path), with spaces, dashes, capitals and hidden files.
TREE = (
    "a.txt", "a/b.txt", "a/c.md", "a-b/x.html", "a b/y.TXT", "A/z.txt", "a/sub/q.htm",
    "a/.hidden.txt", "ab.txt", "a/sub2/deep/r.markdown", "notes/todo.xyz", "notes/data.json",
)


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    for name in TREE:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("An article.")
    (tmp_path / "link-to-a").symlink_to(tmp_path / "a", target_is_directory=True)
    return tmp_path


def walked(folder: Path) -> list[Path]:
    """Every article file under a folder, listed the slow way: all of them, then sorted."""
    found = []
    for parent, _, files in os.walk(folder):  # os.walk does not follow links to folders
        found += [Path(parent) / f for f in files if Path(f).suffix.lower() in SUFFIX_FORMATS]
    return sorted(found)


def test_a_folder_streams_its_articles_in_sorted_path_order(tree: Path) -> None:
    found = list(find_articles([tree]))
    assert found == walked(tree)
    assert len(found) == 10, "the .xyz and .json files are not articles; the link is not followed"
    assert found.index(tree / "a" / "b.txt") < found.index(tree / "a.txt")


def test_overlapping_folders_and_files_give_each_article_once_in_order(tree: Path) -> None:
    roots = [tree / "a", tree, tree / "a.txt", tree / "notes" / "todo.xyz", tree / "a"]
    found = list(find_articles(roots))
    assert found == sorted({*walked(tree), tree / "notes" / "todo.xyz"})


def test_missing_paths_are_set_apart(tree: Path) -> None:
    sources = find_sources([str(tree / "a"), str(tree / "gone.txt")])
    assert sources.missing == (str(tree / "gone.txt"),)
    assert list(sources) == [str(p) for p in walked(tree / "a")]
    assert list(sources) == list(sources), "each iteration walks the folders anew"


def counting(items: list[str], pulled: list[int]) -> Iterator[str]:
    for item in items:
        pulled[0] += 1
        yield item


@pytest.mark.parametrize("jobs", [1, 2])
def test_tag_reads_its_paths_as_the_work_goes(model_dir: Path, jobs: int) -> None:
    article = next(SEEDS.glob("00*.txt"))
    # Paths as distinct as a folder's, all naming one article ("seeds/./././x.txt").
    paths = [f"{SEEDS}/{'./' * (i % 64)}{article.name}" for i in range(20_000)]
    pulled = [0]
    outputs = tag_paths(counting(paths, pulled), model_dir, Options(), "jsonl", jobs)
    first = next(outputs)
    outputs.close()  # stops the workers
    assert not first.failed and article.stem in first.text
    # One chunk, the next looked at; with processes, what the task queue holds besides.
    assert pulled[0] <= (2 * CHUNK if jobs == 1 else len(paths) // 4)


def test_resume_skips_whole_records_retries_errors_and_cuts_only_the_tail(
    tmp_path: Path,
) -> None:
    out = tmp_path / "out.jsonl"
    lines = [
        '{"id":"a","source":"a.txt","paragraphs":[],"summary":[]}',
        '{"id":null,"source":"b.txt","error":"b.txt: not UTF-8"}',
        '{"id":"say \\"source\\":\\"x\\"","source":"c.txt"}',  # the key's text inside an id
        '{"id":{"source":"nested.txt"},"source":"d.txt"}',  # not medbrief's: decoded whole
        '{"source": "e.txt", "id": "e"}',
        '{"id":"f","source":null}',
        "not json",
        '{"id":"g","source":"g.txt","paragraphs":[{"text":"cut off by a kill',
    ]
    out.write_text("\n".join(lines))
    assert prepare_resume(out, "jsonl") == {"a.txt", "c.txt", "d.txt", "e.txt"}
    kept = out.read_text().splitlines()
    assert kept == [line for line in lines if '"b.txt"' not in line and '"g.txt"' not in line]
    assert out.read_text().endswith("not json\n"), "the half-written last line is cut off"
