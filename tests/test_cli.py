"""Every command through click's CLI runner: output, bad files, resume, documentation."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from medbrief.cli import main
from tests.conftest import HELDOUT, SEEDS
from tests.test_training import tiny_corpus


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """A folder of articles in every layout, one nested, plus a file that is not an article."""
    root = tmp_path / "articles"
    (root / "nested").mkdir(parents=True)
    for source in sorted(SEEDS.glob("00*.txt"))[:2]:
        shutil.copy(source, root / source.name)
    shutil.copy(next(HELDOUT.glob("*.md")), root / "nested" / "story.md")
    shutil.copy(next(HELDOUT.glob("*.html")), root / "nested" / "page.html")
    (root / "notes.json").write_text("{}")
    return root


def run(*args: str, input: str | bytes | None = None) -> click.testing.Result:
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_tag_writes_one_record_per_article_in_sorted_order(folder: Path, model_dir: Path) -> None:
    out = folder.parent / "out.jsonl"
    result = run("tag", str(folder), "--out", str(out), "--model", str(model_dir), "--jobs", "1")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in out.read_text().splitlines()]
    sources = [r["source"] for r in records]
    assert sources == sorted(sources) and len(sources) == 4
    assert not any(s.endswith(".json") for s in sources)
    assert [r["id"] for r in records] == [Path(s).stem for s in sources]
    for record in records:
        assert record["paragraphs"] and record["summary"]
        assert all(record["paragraphs"][s["paragraph"]]["label"] != "boilerplate"
                   for s in record["summary"])


def test_tag_with_two_processes_matches_one(folder: Path, model_dir: Path) -> None:
    one, two = folder.parent / "one.jsonl", folder.parent / "two.jsonl"
    for out, jobs in ((one, "1"), (two, "2")):
        assert run("tag", str(folder), "-o", str(out), "--model", str(model_dir), "-j", jobs,
                   ).exit_code == 0
    assert one.read_text() == two.read_text()


def test_tag_reads_urls_through_fsspec(folder: Path, model_dir: Path) -> None:
    pytest.importorskip("fsspec")
    local, remote = folder.parent / "local.jsonl", folder.parent / "remote.jsonl"
    common = ("--model", str(model_dir), "-j", "1")
    assert run("tag", str(folder), "-o", str(local), *common).exit_code == 0
    result = run("tag", folder.as_uri(), (folder / "gone.txt").as_uri(), "-o", str(remote),
                 *common)
    assert result.exit_code == 1, "an unreadable URL makes the exit status say so"
    by_url = [json.loads(line) for line in remote.read_text().splitlines()]
    by_path = [json.loads(line) for line in local.read_text().splitlines()]
    assert [r["source"] for r in by_url] == sorted(
        [Path(r["source"]).as_uri() for r in by_path] + [(folder / "gone.txt").as_uri()]
    )
    gone = next(r for r in by_url if r["source"].endswith("gone.txt"))
    assert gone["id"] == "gone" and "cannot read" in gone["error"]
    same = {Path(r["source"]).as_uri(): r for r in by_path}
    for record in by_url:
        if record["source"] in same:
            assert record["paragraphs"] == same[record["source"]]["paragraphs"]
            assert record["summary"] == same[record["source"]]["summary"]


def test_csv_has_a_row_per_paragraph(folder: Path, model_dir: Path) -> None:
    result = run("tag", str(folder / "nested" / "story.md"), "--format", "csv",
                 "--model", str(model_dir))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert rows and {r["source"] for r in rows} == {str(folder / "nested" / "story.md")}
    assert [int(r["paragraph"]) for r in rows] == list(range(len(rows)))
    assert {r["label"] for r in rows} <= {"mechanism", "trial_results", "risks", "outlook",
                                          "boilerplate"}
    assert 1 <= sum(int(r["in_summary"]) for r in rows) <= 3


def test_unreadable_file_gives_an_error_record_and_the_run_goes_on(
    folder: Path, model_dir: Path
) -> None:
    (folder / "broken.txt").write_bytes(b"caf\xe9 \xff\xfe not utf-8")
    (folder / "empty.md").write_text("   \n")
    out = folder.parent / "out.jsonl"
    result = run("tag", str(folder), "-o", str(out), "--model", str(model_dir), "-j", "1")
    assert result.exit_code == 1
    assert "2 article(s) could not be read" in result.stderr
    records = {r["id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert len(records) == 6
    assert "not UTF-8" in records["broken"]["error"] and "broken.txt" in records["broken"]["error"]
    assert "empty article" in records["empty"]["error"]
    assert "paragraphs" in records["000_ebad58953fcfc064"]


def test_tag_reads_standard_input(model_dir: Path) -> None:
    text = (SEEDS / "002_da1089fed68b70b6.txt").read_text()
    result = run("tag", "-", "--model", str(model_dir), input=text)
    record = json.loads(result.stdout)
    assert record["id"] == "stdin" and record["source"] is None and record["summary"]


def test_interrupted_run_resumes_without_repeating_work(folder: Path, model_dir: Path) -> None:
    out = folder.parent / "out.jsonl"
    args = ["tag", str(folder), "-o", str(out), "--model", str(model_dir), "-j", "1"]
    assert run(*args).exit_code == 0
    complete = out.read_text()
    lines = complete.splitlines(keepends=True)
    out.write_text(lines[0] + lines[1][: len(lines[1]) // 2])  # killed mid-write
    resumed = run(*args, "--resume")
    assert resumed.exit_code == 0 and "skipped 1 already done" in resumed.stderr
    assert out.read_text() == complete
    again = run(*args, "--resume")
    assert "tagged 0 of 0 articles, skipped 4 already done" in again.stderr
    assert out.read_text() == complete


def test_a_killed_run_resumes_to_the_same_output(tmp_path: Path, model_dir: Path) -> None:
    articles = tmp_path / "many"
    articles.mkdir()
    texts = sorted(SEEDS.glob("*.txt"))
    for i in range(400):
        shutil.copy(texts[i % len(texts)], articles / f"{i:03d}.txt")
    expected, out = tmp_path / "expected.jsonl", tmp_path / "out.jsonl"
    args = ["tag", str(articles), "--model", str(model_dir), "-j", "2"]
    assert run(*args, "-o", str(expected), "-j", "1").exit_code == 0
    # A real run in its own process group, killed (workers too) once records flow.
    command = [sys.executable, "-c", "from medbrief.cli import main; main()", *args, "-o", str(out)]
    process = subprocess.Popen(command, start_new_session=True, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while (not out.exists() or out.read_bytes().count(b"\n") < 20) and time.monotonic() < deadline:
        time.sleep(0.01)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    written = out.read_bytes().count(b"\n")
    assert 20 <= written < 400, "killed part way"
    resumed = run(*args, "-o", str(out), "--resume")
    assert resumed.exit_code == 0 and f"skipped {written} already done" in resumed.stderr
    assert out.read_text() == expected.read_text()


def test_resume_needs_an_output_file(folder: Path) -> None:
    result = CliRunner().invoke(main, ["tag", str(folder), "--resume"])
    assert result.exit_code == 2 and "--resume needs --out" in result.output


def test_summarize_prints_sentences_topics_and_key_sentences(model_dir: Path) -> None:
    result = run("summarize", str(SEEDS / "003_d68301345416b06b.txt"), "--model", str(model_dir))
    assert result.exit_code == 0
    assert "Topics:" in result.stdout and "Key sentence per topic:" in result.stdout
    bullets = [line for line in result.stdout.splitlines() if line.startswith("- ")]
    assert len(bullets) == 3
    as_json = json.loads(run("summarize", "-", "--json", "--sentences", "1", "--model",
                             str(model_dir), input=(SEEDS / "003_d68301345416b06b.txt").read_bytes()
                             ).stdout)
    assert len(as_json["summary"]) == 1


def test_errors_are_one_clean_message(tmp_path: Path, model_dir: Path) -> None:
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"\xff\xfe\xfa\x00\x00\xd8")
    result = CliRunner().invoke(main, ["summarize", str(bad), "--model", str(model_dir)])
    assert result.exit_code == 1 and result.output.startswith("Error: ")
    assert "bad.txt" in result.output and "Traceback" not in result.output
    missing = CliRunner().invoke(main, ["summarize", str(bad), "--model", str(tmp_path / "none")])
    assert missing.exit_code == 1 and "medbrief train" in missing.output


def test_train_and_evaluate_commands(tmp_path: Path) -> None:
    data = tiny_corpus(tmp_path / "data")
    models = tmp_path / "models"
    trained = run("train", "--data", str(data), "--out", str(models))
    assert trained.exit_code == 0 and "cross-validation by outlet: macro-F1" in trained.stdout
    evaluated = run("evaluate", "--data", str(data), "--model", str(models))
    assert evaluated.exit_code == 0
    assert "macro-F1" in evaluated.stdout and "results" in evaluated.stdout
    bad = data / "art0.labels.jsonl"
    bad.write_text(bad.read_text() + "{oops\n")
    failed = CliRunner().invoke(main, ["train", "--data", str(data), "--out", str(tmp_path / "m2")])
    assert failed.exit_code == 1 and f"{bad}:5: not valid JSON" in failed.output
    assert not (tmp_path / "m2").exists()


def test_every_command_is_documented_with_an_example() -> None:
    for name, command in main.commands.items():
        assert command.help and "Example:" in command.help, name
        assert run(name, "--help").exit_code == 0


def test_dash_as_output_is_standard_output(folder: Path, model_dir: Path, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    article = next(folder.glob("*.txt"))
    result = run("tag", str(article), "-o", "-", "--model", str(model_dir))
    assert json.loads(result.stdout)["source"] == str(article)
    assert not (tmp_path / "-").exists()


def test_summarize_refuses_a_file_that_is_not_an_article(tmp_path: Path, model_dir: Path) -> None:
    labels = tmp_path / "x.labels.jsonl"
    labels.write_text('{"text": "A.", "label": "risks"}\n')
    result = CliRunner().invoke(main, ["summarize", str(labels), "--model", str(model_dir)])
    assert result.exit_code == 1 and "not an article" in result.output
    assert "Traceback" not in result.output


def test_a_bad_scheduler_address_is_one_clean_message(folder: Path, model_dir: Path) -> None:
    result = CliRunner().invoke(main, ["tag", str(folder), "--scheduler", "nope",
                                       "--model", str(model_dir)])
    assert result.exit_code == 1 and "cannot reach the Dask scheduler nope" in result.output


def test_parquet_output_has_a_row_per_paragraph(folder: Path, model_dir: Path) -> None:
    import pandas

    out = folder.parent / "out.parquet"
    result = run("tag", str(folder), "--format", "parquet", "-o", str(out),
                 "--model", str(model_dir), "-j", "1")
    assert result.exit_code == 0, result.output
    table = pandas.read_parquet(out)
    records = [json.loads(line) for line in run("tag", str(folder), "--model", str(model_dir),
                                                 "-j", "1").stdout.splitlines()]
    assert len(table) == sum(len(r["paragraphs"]) for r in records)
    assert list(table["label"]) == [p["label"] for r in records for p in r["paragraphs"]]
    refused = CliRunner().invoke(main, ["tag", str(folder), "--format", "parquet", "-o",
                                        str(out), "--resume"])
    assert refused.exit_code == 2 and "--resume works with jsonl and csv" in refused.output
