"""Batch tagging on a Dask LocalCluster: same records, same errors, same resume, no loss."""

from __future__ import annotations

import os
import shutil
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

pytest.importorskip("distributed")

from distributed import Client, LocalCluster

from medbrief.batch import tag_paths
from medbrief.cli import main
from medbrief.distributed import (
    PLUGIN_NAME,
    ModelPlugin,
    ModelShipment,
    _register,
    tag_sources,
)
from medbrief.engine import Options
from medbrief.errors import ModelError
from medbrief.record import AnalysisRecord, ErrorRecord
from tests.conftest import HELDOUT, SEEDS

pytestmark = [pytest.mark.distributed, pytest.mark.slow]

BAD = "zz_not_text.txt"


def start_cluster() -> LocalCluster:
    return LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address="127.0.0.1:0"
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalCluster]:
    with start_cluster() as local:
        yield local


@pytest.fixture(scope="module")
def client(cluster: LocalCluster) -> Iterator[Client]:
    with Client(cluster) as connected:
        yield connected


@pytest.fixture(scope="module")
def articles(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed and held-out articles, twice over in two sub-folders, plus one bad file."""
    folder = tmp_path_factory.mktemp("articles")
    for copy in ("a", "b"):
        (folder / copy).mkdir()
        for path in [*SEEDS.glob("*.txt"), *HELDOUT.glob("*.txt")]:
            shutil.copy(path, folder / copy / path.name)
    (folder / "b" / BAD).write_bytes(b"caf\xe9 au lait \x80\x81\n")
    return folder


def lines(records: list[AnalysisRecord | ErrorRecord]) -> list[str]:
    return [r.model_dump_json() for r in records]


def run_tag(*args: str) -> tuple[int, bytes]:
    result = CliRunner().invoke(main, ["tag", *args])
    out = Path(args[args.index("--out") + 1])
    return result.exit_code, out.read_bytes()


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_cluster_output_is_identical_to_the_single_process_run(
    cluster: LocalCluster, articles: Path, model_dir: Path, tmp_path: Path, fmt: str
) -> None:
    common = [str(articles), "--model", str(model_dir), "--format", fmt]
    single = run_tag(*common, "--jobs", "1", "--out", str(tmp_path / f"single.{fmt}"))
    dask = run_tag(
        *common, "--scheduler", cluster.scheduler_address, "--out", str(tmp_path / f"dask.{fmt}")
    )
    assert single[0] == dask[0] == 1, "the bad file makes both runs exit non-zero"
    assert dask[1] == single[1]
    assert dask[1].count(b"\n") > 60


def test_model_sent_by_value_gives_the_same_records(
    client: Client, articles: Path, model_dir: Path
) -> None:
    paths = sorted(articles.rglob("*.txt"))[:20]
    expected = [o.text.rstrip("\n") for o in tag_paths(paths, model_dir, Options(), "jsonl", 1)]
    got = lines(list(tag_sources(paths, model_dir, Options(), client, ship="value", chunk=3)))
    assert got == expected


def test_an_unreadable_file_yields_its_error_record(
    client: Client, articles: Path, model_dir: Path
) -> None:
    good = articles / "a" / "000_ebad58953fcfc064.txt"
    bad = articles / "b" / BAD
    records = list(tag_sources([good, bad, good], model_dir, Options(), client, chunk=1))
    assert [type(r) for r in records] == [AnalysisRecord, ErrorRecord, AnalysisRecord]
    error = records[1]
    assert isinstance(error, ErrorRecord)
    assert error.source == str(bad) and error.id == Path(BAD).stem
    assert "not UTF-8" in error.error


def test_urls_are_read_through_fsspec_on_the_workers(
    client: Client, articles: Path, model_dir: Path
) -> None:
    path = articles / "a" / "000_ebad58953fcfc064.txt"
    url = path.as_uri()
    missing = (articles / "nowhere.txt").as_uri()
    local, remote, gone = tag_sources([path, url, missing], model_dir, Options(), client)
    assert isinstance(local, AnalysisRecord) and isinstance(remote, AnalysisRecord)
    assert remote.source == url and remote.id == local.id
    assert remote.paragraphs == local.paragraphs and remote.summary == local.summary
    assert isinstance(gone, ErrorRecord) and "cannot read" in gone.error


def test_resume_on_the_cluster_finishes_a_cut_off_run(
    cluster: LocalCluster, articles: Path, model_dir: Path, tmp_path: Path
) -> None:
    common = [str(articles), "--model", str(model_dir), "--scheduler", cluster.scheduler_address]
    full = run_tag(*common, "--out", str(tmp_path / "full.jsonl"))[1]
    cut = tmp_path / "cut.jsonl"
    cut.write_bytes(full[: len(full) // 3] + b'{"id": "half a li')
    code, resumed = run_tag(*common, "--out", str(cut), "--resume")
    assert code == 1
    assert resumed == full


def test_every_worker_checks_the_model_version(client: Client, model_dir: Path) -> None:
    wrong = ModelShipment("19990101T000000-00000000", model_dir=str(model_dir))
    with pytest.raises(ModelError, match="expected 19990101T000000-00000000"):
        ModelPlugin(wrong).setup()
    try:
        with pytest.raises(ModelError, match=r"loaded model .*, expected 19990101T000000"):
            _register(client, wrong)
    finally:
        client.unregister_worker_plugin(PLUGIN_NAME)


def test_a_killed_workers_tasks_are_retried_without_loss_or_duplicates(
    articles: Path, model_dir: Path
) -> None:
    paths = sorted(articles.rglob("*.txt"))
    expected = [o.text.rstrip("\n") for o in tag_paths(paths, model_dir, Options(), "jsonl", 1)]
    with start_cluster() as cluster, Client(cluster) as client:
        records = tag_sources(paths, model_dir, Options(), client, chunk=2, window=8)
        got = [next(records)]
        victim, deadline = None, time.monotonic() + 30
        while victim is None and time.monotonic() < deadline:
            busy = [w for w, tasks in client.processing().items() if tasks]
            victim = busy[0] if busy else None
        assert victim is not None, "no worker was busy"
        pid = client.run(os.getpid, workers=[victim])[victim]
        os.kill(pid, signal.SIGKILL)
        got += list(records)
        pids = client.run(os.getpid).values()
    assert pid not in pids, "the worker was killed (and its nanny started a new one)"
    assert lines(got) == expected
