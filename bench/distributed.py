"""`medbrief tag` on a 2-worker Dask LocalCluster against the single-machine process pool,
in the same run, on N generated ~800-word articles; the two outputs must be identical.

    .venv/bin/python bench/distributed.py [--count 10000] [--jobs 2] [--rounds 1]
    .venv/bin/python bench/distributed.py --count 2000 --scale 1,2   # workers against speed

The articles are generated deterministically from the sentences of the articles in seeds/
(``benchlib.generate_folder``) into bench/out/ and reused while unchanged. The current
model in models/ is copied to a temporary folder first (trained from seeds/ when there is
none), so a retrain elsewhere cannot change it mid-run. Each path runs as its own
subprocess, start-up included (for the cluster: starting the scheduler and the workers
and loading the model on each):

    medbrief tag FOLDER --out single.jsonl --jobs N
    medbrief tag FOLDER --out dask.jsonl --jobs N --scheduler local

With ``--rounds`` above 1 the order alternates between rounds and the best wall time of
each path is kept. Exits non-zero when the outputs differ or the cluster path is more
than 25% slower.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import MODELS, OUT, ROOT, SEEDS, article_files, generate_folder, table

MAX_SLOWDOWN = 1.25
MEDBRIEF = Path(sys.executable).with_name("medbrief")


def model_copy(into: Path) -> Path:
    """A private copy of the current model (trained from seeds/ when there is none)."""
    from medbrief.model import CARD_FILE, POINTER, current_version

    version = current_version(MODELS)
    if version is None or not (MODELS / version / CARD_FILE).is_file():
        from medbrief.training.train import train

        train(SEEDS, into, cross_validation=False)
        return into
    shutil.copytree(MODELS / version, into / version)
    (into / POINTER).write_text(version + "\n")
    return into


def run(folder: Path, out: Path, model: Path, jobs: int, scheduler: str | None) -> float:
    """Wall seconds of one `medbrief tag` subprocess."""
    command = [str(MEDBRIEF), "tag", str(folder), "--out", str(out), "--model", str(model),
               "--jobs", str(jobs)]
    if scheduler:
        command += ["--scheduler", scheduler]
    start = time.perf_counter()
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="articles to generate")
    parser.add_argument("--jobs", type=int, default=2, help="processes / cluster workers")
    parser.add_argument("--rounds", type=int, default=1, help="runs of each path")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--scale", metavar="N,N,...",
                        help="instead: the cluster path alone with each number of workers")
    args = parser.parse_args()

    folder = OUT / f"distributed-articles-{args.count}-{args.seed}"
    info = generate_folder(folder, args.count, seed=args.seed)
    count = len(article_files(folder))
    print(f"{count} articles in {folder} (mean {info['mean_words']} words); "
          f"{os.cpu_count()} cores; {args.jobs} processes or workers", flush=True)
    if args.scale:
        scale(folder, count, [int(n) for n in args.scale.split(",")])
        return
    best: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="medbrief-bench-") as tmp:
        work = Path(tmp)
        model = model_copy(work / "models")
        outputs = {"single": work / "single.jsonl", "dask": work / "dask.jsonl"}
        for round_ in range(args.rounds):
            order = ["single", "dask"] if round_ % 2 == 0 else ["dask", "single"]
            for name in order:
                scheduler = "local" if name == "dask" else None
                seconds = run(folder, outputs[name], model, args.jobs, scheduler)
                best[name] = min(best.get(name, seconds), seconds)
                print(f"round {round_ + 1} {name}: {seconds:.1f} s "
                      f"({count / seconds:.1f} articles/s)", flush=True)
        single, dask = (outputs[k].read_bytes() for k in ("single", "dask"))
        identical = single == dask
        records = single.count(b"\n")
    ratio = best["single"] / best["dask"]
    print(table(
        ["path", "best wall s", "articles/s"],
        [[f"tag --jobs {args.jobs} (process pool)", f"{best['single']:.1f}",
          f"{count / best['single']:.1f}"],
         [f"tag --scheduler local ({args.jobs} workers)", f"{best['dask']:.1f}",
          f"{count / best['dask']:.1f}"]],
    ))
    print(f"cluster / pool throughput ratio: {ratio:.3f} (must be >= {1 / MAX_SLOWDOWN:.2f})")
    print(f"outputs identical: {identical} ({records} records)")
    if not identical or ratio < 1 / MAX_SLOWDOWN:
        sys.exit(1)


def scale(folder: Path, count: int, workers: list[int]) -> None:
    """Throughput of the cluster path with each number of workers; outputs must agree."""
    rows, first = [], None
    with tempfile.TemporaryDirectory(prefix="medbrief-bench-") as tmp:
        work = Path(tmp)
        model = model_copy(work / "models")
        for n in workers:
            out = work / f"dask-{n}.jsonl"
            seconds = run(folder, out, model, n, "local")
            rate = count / seconds
            first = first or rate
            rows.append([n, f"{seconds:.1f}", f"{rate:.1f}", f"{rate / first:.2f}"])
            print(f"{n} workers: {seconds:.1f} s ({rate:.1f} articles/s)", flush=True)
            if out.read_bytes() != (work / f"dask-{workers[0]}.jsonl").read_bytes():
                sys.exit(f"output with {n} workers differs from {workers[0]} workers")
    print(table(["workers", "wall s", "articles/s", "speed-up"], rows))


if __name__ == "__main__":
    main()
