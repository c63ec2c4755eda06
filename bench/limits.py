"""Worst cases: inputs built to make medbrief work hard, and what each costs.

    .venv/bin/python bench/limits.py

- a 1.9 MB HTML page of 12,000 paragraphs and 12,000 navigation links, read whole, and
  as the service reads it (refused past 2,000 paragraphs): CPU seconds (target < 1 s);
- 200,000 tiny HTML paragraphs, refused: CPU seconds;
- the summary of articles of 40 paragraphs under a model of 10 labels, every
  ``sentences`` from 1 to the service's maximum (20) and word budgets from 20 to 400: the
  slowest summary in ms (target < 50 ms);
- the model loader on 160 fuzzed model files (random bytes, truncations, flipped bytes,
  nested trees, a zip bomb, an array claiming more than it holds), each in a fresh
  process: what it raised, its CPU time and its own peak memory (targets: only
  ModelError, < 1 s, < 200 MB each).
"""

from __future__ import annotations

import io
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from medbrief.engine import Analyzer, Options  # noqa: E402
from medbrief.errors import InputTooLarge  # noqa: E402
from medbrief.ingest import read_article  # noqa: E402
from medbrief.model import MODEL_FILE, current_version  # noqa: E402
from medbrief.training.train import train  # noqa: E402
from tests.test_reliability import big_page, zipped  # noqa: E402


def cpu(work: object) -> tuple[float, object]:
    began = time.process_time()
    try:
        result = work()  # type: ignore[operator]
    except InputTooLarge as exc:
        result = exc
    return time.process_time() - began, result


def pages() -> None:
    page = big_page()
    seconds, whole = cpu(lambda: read_article(page, "html", max_paragraphs=100_000))
    print(f"1.9 MB page ({len(page) / 1e6:.2f} MB), read whole: {seconds:.2f} s CPU, "
          f"{len(whole.paragraphs)} paragraphs")  # type: ignore[union-attr]
    seconds, refused = cpu(lambda: read_article(page, "html", max_paragraphs=2_000))
    print(f"the same page as the service reads it (2,000 paragraphs at most): {seconds:.2f} s "
          f"CPU, {type(refused).__name__} (target < 1 s: {'PASS' if seconds < 1 else 'MISS'})")
    tiny = "<html><body>" + "<p>x</p>" * 200_000 + "</body></html>"
    seconds, refused = cpu(lambda: read_article(tiny, "html", max_paragraphs=2_000))
    print(f"200,000 tiny paragraphs: {seconds:.2f} s CPU, {type(refused).__name__}")


def summaries() -> None:
    folder = Path(tempfile.mkdtemp())
    rng = random.Random(3)
    labels = [f"topic{k}" for k in range(10)]
    sentences = [f"Patients in group {i} had {i % 9 + 2} fewer attacks over {i % 11 + 3} "
                 f"weeks of treatment number {i}." for i in range(400)]
    for a in range(30):
        rows = [(" ".join(rng.sample(sentences, 3)), labels[(a + p) % 10]) for p in range(20)]
        with (folder / f"a{a}.labels.jsonl").open("w") as handle:
            handle.writelines(json.dumps({"text": t, "label": lab}) + "\n" for t, lab in rows)
    analyzer = Analyzer(train(folder, None, cross_validation=False))
    shutil.rmtree(folder)
    articles = [analyzer.read("\n\n".join(" ".join(rng.sample(sentences, 4))
                                          for _ in range(40))) for _ in range(5)]
    worst = (0.0, 0, 0)
    for article in articles:
        for n in range(1, 21):
            for words in (20, 40, 80, 120, 200, 400):
                began = time.perf_counter()
                analyzer.analyze_many([article], Options(n, words))
                worst = max(worst, (time.perf_counter() - began, n, words))
    print(f"slowest summary, 10 labels, 40 paragraphs: {worst[0] * 1000:.1f} ms (sentences="
          f"{worst[1]}, words={worst[2]}; target < 50 ms: "
          f"{'PASS' if worst[0] < 0.05 else 'MISS'})")


FUZZ = """
import resource, sys, time
from pathlib import Path
from medbrief.errors import ModelError
from medbrief.model import load_model
began = time.process_time()
try:
    load_model(Path(sys.argv[1])); outcome = "loaded"
except ModelError:
    outcome = "ModelError"
except BaseException as exc:
    outcome = type(exc).__name__
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
print(outcome, time.process_time() - began, peak // 1024)
"""


def fuzz() -> None:
    model_dir = ROOT / "models"
    version = current_version(model_dir)
    good = (model_dir / str(version) / MODEL_FILE).read_bytes()
    rng = random.Random(0)
    cases: list[bytes] = [bytes(rng.randrange(256) for _ in range(rng.randrange(1, 5000)))
                          for _ in range(50)]
    cases += [good[: rng.randrange(len(good))] for _ in range(50)]
    for _ in range(55):
        flipped = bytearray(good)
        for _ in range(rng.randrange(1, 20)):
            flipped[rng.randrange(len(flipped))] = rng.randrange(256)
        cases.append(bytes(flipped))
    cases += special_cases()
    outcomes: dict[str, int] = {}
    worst_cpu = worst_memory = 0.0
    scratch = Path(tempfile.mkdtemp())
    for data in cases:
        copy = scratch / "model"
        shutil.rmtree(copy, ignore_errors=True)
        shutil.copytree(model_dir, copy, ignore=shutil.ignore_patterns(".*"))
        (copy / str(version) / MODEL_FILE).write_bytes(data)
        done = subprocess.run([sys.executable, "-c", FUZZ, str(copy)], capture_output=True,
                              text=True, cwd=ROOT, check=True)
        outcome, seconds, peak = done.stdout.split()
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        worst_cpu, worst_memory = max(worst_cpu, float(seconds)), max(worst_memory, float(peak))
    shutil.rmtree(scratch)
    bad = {k: v for k, v in outcomes.items() if k not in ("ModelError", "loaded")}
    print(f"model loader on {len(cases)} fuzzed files: {outcomes}; slowest {worst_cpu:.2f} s "
          f"CPU, largest peak {worst_memory:.0f} MB (targets: only ModelError, < 1 s, < 200 MB: "
          f"{'PASS' if not bad and worst_cpu < 1 and worst_memory < 200 else 'MISS'})")


def special_cases() -> list[bytes]:
    empty = io.BytesIO()
    np.savez(empty)
    deep = '{"format": "medbrief-model/1", "objects": {"x": ' + '{"list": [' * 20_000
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (10**10,)}
    )
    claim = zipped({"a0.npy": b"\x93NUMPY\x01\x00" + header.getvalue()[8:]})
    tree = json.dumps({"format": "medbrief-model/1", "objects": {"linear": {"array": "a0"}}})
    return [
        zipped({"tree.json": (deep + "]}" * 20_000 + "}}").encode(), "arrays.npz": b""}),
        zipped({"tree.json": b"[" * 1_000_000, "arrays.npz": empty.getvalue()}),
        zipped({"tree.json": b"{}", "arrays.npz": bytes(3_000_000_000 // 8)}),
        zipped({"tree.json": tree.encode(), "arrays.npz": claim}),
        zipped({"tree.json": b"{}", "arrays.npz": zipped({"a.npy": bytes(200_000_000)})}),
    ]


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    pages()
    summaries()
    fuzz()
