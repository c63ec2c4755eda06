"""Reliability: nothing lost on resume, every input bounded, bad models refused cleanly.

Each test names a defect a careless user or an attacker could hit; a hang is caught by
running the work in a child process with a generous timeout (a guard, not a speed test).
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from medbrief import persist
from medbrief.cli import main
from medbrief.errors import ModelError
from medbrief.ingest import read_article
from medbrief.model import MODEL_FILE, POINTER, current_version, load_model
from tests.conftest import SEEDS, write_labelled

GUARD = 60  # seconds a child process may take before it counts as hung


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def child(code: str, timeout: float = GUARD) -> subprocess.CompletedProcess[str]:
    """Run Python code in a fresh process; fails the test if it does not finish in time."""
    try:
        return subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
            cwd=Path(__file__).resolve().parents[1],
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"hung for {timeout} s: {code[:80]}")


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    folder = tmp_path / "articles"
    folder.mkdir()
    for source in sorted(SEEDS.glob("0*.txt"))[:3]:
        (folder / source.name).write_bytes(source.read_bytes())
    return folder


# --------------------------------------------------------------------- resume: nothing lost


def test_resume_keeps_finished_records_before_a_long_half_written_line(
    articles: Path, model_dir: Path
) -> None:
    out = articles.parent / "out.jsonl"
    args = ["tag", str(articles), "-o", str(out), "--model", str(model_dir), "-j", "1"]
    assert run(*args)[0] == 0
    complete = out.read_text()
    lines = complete.splitlines(keepends=True)
    out.write_text("".join(lines[:2]) + '{"id":"x","source":"' + "y" * 100_000)  # > 64 KB
    code, _, err = run(*args, "--resume")
    assert code == 0 and "skipped 2 already done" in err
    assert out.read_text() == complete


def test_csv_resume_redoes_an_article_cut_short(articles: Path, model_dir: Path) -> None:
    out = articles.parent / "out.csv"
    args = ["tag", str(articles), "-o", str(out), "--format", "csv", "--model", str(model_dir)]
    assert run(*args, "-j", "1")[0] == 0
    complete = out.read_text()
    lines = complete.splitlines(keepends=True)
    last = list(csv.DictReader(io.StringIO(complete)))[-1]["source"]
    first_of_last = next(i for i, line in enumerate(lines) if last in line)
    out.write_text("".join(lines[: first_of_last + 3]) + lines[first_of_last + 3][:10])
    code, _, err = run(*args, "-j", "1", "--resume")
    assert code == 0 and "skipped 2 already done" in err
    assert out.read_text() == complete


def test_resume_retries_failed_sources_without_repeating_their_errors(
    articles: Path, model_dir: Path
) -> None:
    bad = articles / "zz_bad.txt"
    bad.write_bytes(b"caf\xe9 \x80\x81 not UTF-8")
    out = articles.parent / "out.jsonl"
    args = ["tag", str(articles), "-o", str(out), "--model", str(model_dir), "-j", "1"]
    code, _, err = run(*args)
    assert code == 1 and "zz_bad.txt" in err, "the failure is named on standard error"
    assert run(*args, "--resume")[0] == 1
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["source"] for r in records].count(str(bad)) == 1, "one error record, not two"
    bad.write_text("Nine of ten patients improved in the trial, the researchers said.")
    assert run(*args, "--resume")[0] == 0
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert sorted(r["source"] for r in records) == sorted(map(str, articles.iterdir()))
    assert not any("error" in r for r in records)


def test_a_symlink_loop_does_not_hide_the_rest_of_its_folder(
    articles: Path, model_dir: Path
) -> None:
    (articles / "loop.txt").symlink_to(articles / "loop.txt")
    out = articles.parent / "out.jsonl"
    code, _, err = run("tag", str(articles), "-o", str(out), "--model", str(model_dir))
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert code == 1 and len(records) == 4 and "loop.txt" in err
    assert sum("error" in r for r in records) == 1


def test_an_empty_folder_is_an_error_not_an_empty_success(
    tmp_path: Path, model_dir: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    code, _, err = run("tag", str(empty), "-o", str(tmp_path / "out.jsonl"),
                       "--model", str(model_dir))
    assert code == 1 and "no articles found" in err


def test_csv_cells_never_start_a_spreadsheet_formula(tmp_path: Path, model_dir: Path) -> None:
    article = tmp_path / "=cmd.txt"
    article.write_text("=HYPERLINK(\"http://x\")\n\n+1+1 patients improved in the trial.")
    out = tmp_path / "out.csv"
    assert run("tag", str(article), "-o", str(out), "--format", "csv",
               "--model", str(model_dir))[0] == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    for row in rows:
        for field in ("id", "source", "text", "label"):
            assert not row[field].startswith(("=", "+", "-", "@")), (field, row[field])
    assert rows[0]["text"] == "'=HYPERLINK(\"http://x\")" and rows[0]["id"] == "'=cmd"


# ------------------------------------------------------------------ bounded, never hanging


def test_a_link_to_dev_zero_and_a_fifo_give_error_records(tmp_path: Path, model_dir: Path) -> None:
    folder = tmp_path / "odd"
    folder.mkdir()
    (folder / "zero.txt").symlink_to("/dev/zero")
    os.mkfifo(folder / "pipe.txt")
    (folder / "fine.txt").write_text("Nine of ten patients improved in the trial.")
    done = subprocess.run(
        [sys.executable, "-c", "from medbrief.cli import main; main()", "tag", str(folder),
         "--model", str(model_dir), "-j", "1"],
        capture_output=True, text=True, timeout=GUARD,
    )
    records = [json.loads(line) for line in done.stdout.splitlines()]
    errors = {Path(r["source"]).name: r["error"] for r in records if "error" in r}
    assert done.returncode == 1 and set(errors) == {"zero.txt", "pipe.txt"}
    assert "character device" in errors["zero.txt"] and "FIFO" in errors["pipe.txt"]


def test_training_refuses_a_fifo_label_file_instead_of_waiting(tmp_path: Path) -> None:
    data = tmp_path / "data"
    write_labelled(data, "ok", [("Accept cookies.", "boilerplate"), ("Nine improved.", "x")])
    os.mkfifo(data / "stuck.labels.jsonl")
    done = subprocess.run(
        [sys.executable, "-c", "from medbrief.cli import main; main()", "train", "--data",
         str(data), "--out", str(tmp_path / "m")], capture_output=True, text=True, timeout=GUARD,
    )
    assert done.returncode == 1 and "stuck.labels.jsonl" in done.stderr and "FIFO" in done.stderr
    assert "Traceback" not in done.stderr


def test_training_errors_are_one_clean_message(tmp_path: Path) -> None:
    one = tmp_path / "one"
    write_labelled(one, "a", [("Only one label here.", "results")])
    code, _, err = run("train", "--data", str(one), "--out", str(tmp_path / "m"))
    assert code == 1 and "at least two labels" in err and "Traceback" not in err
    deep = tmp_path / "deep"
    write_labelled(deep, "a", [("Cookies.", "boilerplate"), ("Nine improved.", "results")])
    with (deep / "a.labels.jsonl").open("a") as handle:
        handle.write("[" * 100_000 + "]" * 100_000 + "\n")
    code, _, err = run("train", "--data", str(deep), "--out", str(tmp_path / "m"))
    assert code == 1 and "a.labels.jsonl:3: JSON nested too deeply" in err


def big_page(n: int = 12_000) -> str:
    nav = "".join(f'<li><a href="/s/{i}">Read the full section link number {i} here</a></li>'
                  for i in range(n))
    body = "".join(f"<p>Paragraph {i} says that patients in group {i} did well over time.</p>"
                   for i in range(n))
    return f"<html><body><nav><ul>{nav}</ul></nav><article>{body}</article></body></html>"


def test_a_page_of_many_paragraphs_and_links_is_read_without_quadratic_work() -> None:
    code = (
        "from tests.test_reliability import big_page\n"
        "from medbrief.html import html_paragraphs\n"
        "print(len(html_paragraphs(big_page())))"
    )
    done = child(code, timeout=30)  # quadratic matching took 70 s of CPU here
    assert done.returncode == 0 and done.stdout.strip() == "24000", done.stderr


def test_a_page_over_the_paragraph_limit_is_refused_before_extraction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import medbrief.html
    from medbrief.errors import InputTooLarge

    def never(*_: object, **__: object) -> str:
        raise AssertionError("the extractor ran on a page already over the limit")

    monkeypatch.setattr(medbrief.html.trafilatura, "extract", never)
    page = "<html><body>" + "<p>x</p>" * 200_000 + "</body></html>"
    with pytest.raises(InputTooLarge, match="paragraphs") as raised:
        read_article(page, "html", name="many.html", max_paragraphs=2_000)
    assert raised.value.what == "paragraphs" and "many.html" in str(raised.value)


def test_deeply_nested_text_is_read_or_refused_never_dropped() -> None:
    nested = "<p>Top.</p>" + "<div>" * 600 + "<p>Deep text here.</p>" + "</div>" * 600
    texts = [p.text for p in read_article(f"<html><body>{nested}</body></html>", "html").paragraphs]
    assert "Deep text here." in texts
    too_deep = "<div>" * 3000 + "<p>Deep.</p>" + "</div>" * 3000
    with pytest.raises(Exception, match="nested too deeply"):
        read_article(f"<html><body><p>Top.</p>{too_deep}</body></html>", "html")
    items = "".join("  " * i + f"- item at level {i}\n" for i in range(30))
    assert len(read_article("# List\n\n" + items, "markdown").paragraphs) == 31
    deeper = "".join("  " * i + f"- item at level {i}\n" for i in range(80))
    with pytest.raises(Exception, match="nested deeper"):
        read_article("# List\n\n" + deeper, "markdown")


def test_the_joint_summary_choice_stays_bounded_for_many_labels_and_sentences(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from medbrief import summary
    from medbrief.summary import Unit, choose, scored

    calls = 0
    compatible = summary._compatible

    def counted(picked: object, max_words: int) -> bool:
        nonlocal calls
        calls += 1
        if calls > 100_000:
            raise AssertionError("the joint choice tries combinations without bound")
        return compatible(picked, max_words)  # type: ignore[arg-type]

    monkeypatch.setattr(summary, "_compatible", counted)
    units = [
        Unit(i, f"Finding {i} of the study: {i + 3} patients of group {i} improved after a "
             f"month of treatment {i}. Another result {i} held for {i + 2} weeks in group {i}. "
             f"Group {i} also had {i + 1} relapses in the third month of care {i}.",
             f"label{i % 10}", 0.9)
        for i in range(40)
    ]
    chosen = choose(scored(units), units, sentences=10, max_words=40)
    assert chosen and (len(chosen) == 1 or sum(c.length for c in chosen) <= 40)


# ---------------------------------------------------------------------------------- models


def save_bytes(model_dir: Path, tmp_path: Path, data: bytes) -> Path:
    import shutil

    copy = tmp_path / "model"
    shutil.copytree(model_dir, copy)
    version = current_version(copy)
    assert version is not None
    (copy / version / MODEL_FILE).write_bytes(data)
    return copy


def zipped(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def npz(**arrays: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def test_a_deeply_nested_model_file_is_a_model_error(model_dir: Path, tmp_path: Path) -> None:
    deep = '{"format": "medbrief-model/1", "objects": {"linear": ' + '{"list": [' * 5000
    data = zipped({"tree.json": (deep + "]}" * 5000 + "}}").encode(), "arrays.npz": npz()})
    with pytest.raises(ModelError, match="nested"):
        load_model(save_bytes(model_dir, tmp_path, data))


def test_a_corrupt_model_file_is_a_model_error(model_dir: Path, tmp_path: Path) -> None:
    from tests.test_service import corrupt_stream

    version = current_version(model_dir)
    good = (model_dir / str(version) / MODEL_FILE).read_bytes()
    with pytest.raises(ModelError):  # zlib.error before
        load_model(save_bytes(model_dir, tmp_path, corrupt_stream(good)))


def test_a_zip_bomb_model_is_refused_before_it_is_unpacked(
    model_dir: Path, tmp_path: Path
) -> None:
    data = zipped({"tree.json": b"{}", "arrays.npz": bytes(400_000_000)})
    assert len(data) < 1_000_000
    code = (
        "from pathlib import Path\n"
        "from medbrief.model import load_model\nfrom medbrief.errors import ModelError\n"
        f"try:\n    load_model(Path({str(save_bytes(model_dir, tmp_path, data))!r}))\n"
        "except ModelError as exc:\n    print('refused', exc)\n"
        # VmHWM: this process's own peak (ru_maxrss would carry over the parent's, at exec)
        "print(next(int(line.split()[1]) // 1024 for line in open('/proc/self/status')"
        " if line.startswith('VmHWM')))"
    )
    done = child(code)
    refused, peak = done.stdout.strip().splitlines()
    assert refused.startswith("refused") and "over the limit" in refused
    assert int(peak) < 300, "refused without unpacking 400 MB"


def test_an_array_claiming_more_data_than_it_holds_is_refused(
    model_dir: Path, tmp_path: Path
) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**10,)}
    )
    inner = zipped({"a0.npy": b"\x93NUMPY\x01\x00" + header.getvalue()[8:]})
    tree = json.dumps({"format": persist.FORMAT, "objects": {"linear": {"array": "a0"}}})
    data = zipped({"tree.json": tree.encode(), "arrays.npz": inner})
    with pytest.raises(ModelError, match="does not match"):
        load_model(save_bytes(model_dir, tmp_path, data))


@pytest.mark.parametrize("pointer", ["../../x", "/etc", "..", "a/../../b", "v1\x00"])
def test_a_pointer_outside_the_model_folder_is_refused(tmp_path: Path, pointer: str) -> None:
    (tmp_path / POINTER).write_text(pointer)
    with pytest.raises(ModelError, match="not a model version name"):
        load_model(tmp_path)


def test_fuzzed_model_files_only_ever_raise_model_errors(model_dir: Path, tmp_path: Path) -> None:
    import random

    version = current_version(model_dir)
    good = (model_dir / str(version) / MODEL_FILE).read_bytes()
    rng = random.Random(7)
    variants = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 3000)))
                for _ in range(10)]
    variants += [good[: rng.randrange(len(good))] for _ in range(10)]
    for _ in range(10):
        flipped = bytearray(good)
        for _ in range(8):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        variants.append(bytes(flipped))
    for number, data in enumerate(variants):
        folder = save_bytes(model_dir, tmp_path / str(number), data)
        try:
            load_model(folder)
        except ModelError:
            continue
