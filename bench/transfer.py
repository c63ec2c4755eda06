"""What transfers to real news: each feature set trained on real and written articles
together, scored by outlet-grouped cross-validation and on both held-out sets.

    .venv/bin/python bench/transfer.py [--features light --features both ...]

For each feature set: ``training.train.train`` on seeds/ (the written articles and
seeds/real/, never a held-out folder) with cross-validation grouped by outlet, then
``medbrief evaluate``'s scores on seeds/heldout-real/ (real articles from outlets training
never saw) and seeds/heldout/ (written), and the median CPU time of one real held-out
article analysed alone (on first sight: the embedding cache emptied before each). Each set
is trained in a fresh process. Prints a Markdown table
and writes bench/out/transfer.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "bench" / "out"
FEATURE_SETS = ("light", "both", "cascade", "tuned")


def measure(features: str) -> dict[str, object]:
    """In this (fresh) process: train with CV, score the held-out sets, time analysis."""
    sys.path.insert(0, str(ROOT))
    from medbrief.engine import Analyzer
    from medbrief.training.data import heldout_dirs
    from medbrief.training.options import TrainingOptions
    from medbrief.training.train import train

    seeds = ROOT / "seeds"
    started = time.perf_counter()
    model = train(seeds, None, heldout_dirs(seeds), TrainingOptions(features=features))
    seconds = time.perf_counter() - started
    card = model.card
    analyzer = Analyzer(model)
    real = sorted((seeds / "heldout-real").glob("*.txt"))
    articles = [analyzer.read_path(path) for path in real]
    analyzer.analyze_many(articles[:2])  # warm-up
    encoder = sys.modules.get("medbrief.encoder")  # loaded with a model that embeds
    cpu = []
    for article in articles:
        if encoder is not None:
            encoder._embeddings.clear()  # every paragraph seen for the first time
        began = time.process_time()
        analyzer.analyze_many([article])
        cpu.append(time.process_time() - began)
    row: dict[str, object] = {"train_seconds": round(seconds, 1)}
    if card.cross_validation is not None and card.cross_validation_real is not None:
        row["cv_macro_f1"] = card.cross_validation.macro_f1  # (the tuned set has none)
        row["cv_real_macro_f1"] = card.cross_validation_real.macro_f1
    for name, metrics in card.heldout_sets.items():
        row[f"{name}_macro_f1"] = metrics.macro_f1
        row[f"{name}_per_label"] = {k: v.f1 for k, v in metrics.per_label.items()}
        if metrics.summary is not None:
            row[f"{name}_recall"] = metrics.summary.recall
            row[f"{name}_boilerplate_sentences"] = metrics.summary.boilerplate_sentences
    row["article_cpu_ms_median"] = round(statistics.median(cpu) * 1000, 2)
    return row


def table(rows: dict[str, dict[str, object]]) -> str:
    names = list(rows)
    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]

    def line(title: str, get: object) -> None:
        cells = []
        for n in names:
            try:
                value = get(rows[n])  # type: ignore[operator]
            except KeyError:
                value = "–"
            cells.append(f"{value:.3f}" if isinstance(value, float) else str(value))
        lines.append(f"| {title} | " + " | ".join(cells) + " |")

    line("real held-out macro-F1", lambda r: r["heldout-real_macro_f1"])
    for label in ("boilerplate", "mechanism", "trial_results", "risks", "outlook"):
        line(f"real held-out F1 {label}", lambda r, k=label: r["heldout-real_per_label"][k])
    line("real held-out: reference sentences recalled", lambda r: r["heldout-real_recall"])
    line("real held-out: boilerplate summary sentences",
         lambda r: r["heldout-real_boilerplate_sentences"])
    line("CV by outlet, real articles, macro-F1", lambda r: r["cv_real_macro_f1"])
    line("CV by outlet, all articles, macro-F1", lambda r: r["cv_macro_f1"])
    line("written held-out macro-F1", lambda r: r["heldout_macro_f1"])
    line("written held-out: reference sentences recalled", lambda r: r["heldout_recall"])
    line("one real article, median CPU ms", lambda r: r["article_cpu_ms_median"])
    line("`medbrief train` with CV (tuned: without, fine-tune included), s",
         lambda r: r["train_seconds"])
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--features", choices=FEATURE_SETS, action="append")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(args.child)))
        return
    saved = OUT / "transfer.json"
    rows: dict[str, dict[str, object]] = json.loads(saved.read_text()) if saved.exists() else {}
    for features in args.features or FEATURE_SETS:
        result = subprocess.run(
            [sys.executable, __file__, "--child", features], check=True, capture_output=True,
            text=True, cwd=ROOT,
        )
        rows[features] = json.loads(result.stdout.strip().splitlines()[-1])
        rows[features]["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        print(features, json.dumps(rows[features]), file=sys.stderr, flush=True)
    OUT.mkdir(parents=True, exist_ok=True)
    saved.write_text(json.dumps(rows, indent=2) + "\n")
    print(table({n: rows[n] for n in FEATURE_SETS if n in rows}))


if __name__ == "__main__":
    main()
