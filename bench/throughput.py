"""`medbrief tag` throughput and peak memory on 10,000 generated ~800-word articles, then a
second run with --resume that must do no work.

    .venv/bin/python bench/throughput.py [--count 10000] [--jobs 2] [--rounds 2]

The articles are generated deterministically from the sentences of the training articles
in seeds/ (not seeds/heldout/), with boilerplate paragraphs and glued "Read more:" links
mixed in, in five layouts (blank-line text, hard-wrapped text, one paragraph per line,
Markdown, HTML); they are written once to bench/out/ and reused while the generator and
its parameters are unchanged. `medbrief tag FOLDER --out OUT --jobs N` runs as a
subprocess; memory is the process tree's resident memory, polled from /proc every 250 ms
(RSS summed over the tree, which counts pages shared after fork once per process, and PSS,
which splits them), and each process's own peak (VmHWM, exact between polls).
The run is repeated ``--rounds`` times from an empty output and the fastest is reported
(each round's time is printed): the speed of this 2-vCPU VM drifts by a quarter from
minute to minute.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from benchlib import MODELS, OUT, article_files, generate_folder, table

from medbrief.model import load_model
from medbrief.resume import prepare_resume

TARGET_RATE = 200.0
TARGET_MB = 500.0
POLL_SECONDS = 0.25
RESUME_SECONDS = 5.0


@dataclass
class TreeMemory:
    """Peaks of a process tree's memory, polled from /proc."""

    root: int
    peak_rss: int = 0  # bytes, largest simultaneous sum over the tree
    peak_pss: int = 0
    peak_processes: int = 0
    first_output: float | None = None  # perf_counter when the output file first had data
    hwm: dict[int, int] = field(default_factory=dict)  # pid -> VmHWM (own peak RSS)
    ticks: dict[int, int] = field(default_factory=dict)  # pid -> utime + stime, clock ticks

    def poll(self) -> None:
        pids, ticks = _tree(self.root)
        self.ticks.update(ticks)
        rss = pss = 0
        for pid in pids:
            status = _status(pid)
            rss += status.get("VmRSS", 0)
            if "VmHWM" in status:
                self.hwm[pid] = status["VmHWM"]
            pss += _pss(pid)
        self.peak_rss = max(self.peak_rss, rss)
        self.peak_pss = max(self.peak_pss, pss)
        self.peak_processes = max(self.peak_processes, len(pids))


def _tree(root: int) -> tuple[list[int], dict[int, int]]:
    """``root`` and its descendants, from the parent ids in /proc/*/stat, with their CPU ticks."""
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        fields = stat[stat.rfind(b")") + 2 :].split()
        children.setdefault(int(fields[1]), []).append(int(entry))
        ticks[int(entry)] = int(fields[11]) + int(fields[12])
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out, {pid: ticks[pid] for pid in out if pid in ticks}


def _status(pid: int) -> dict[str, int]:
    """The memory lines of /proc/PID/status, in bytes."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0]) * 1024
    except OSError:
        pass
    return out


def _pss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


@dataclass(frozen=True)
class Run:
    seconds: float
    returncode: int
    stderr: str
    memory: TreeMemory
    cpu_seconds: float  # user + system CPU of the whole tree, polled (last poll per process)


def run_tag(command: list[str], output: Path) -> Run:
    """Run ``command``, polling its process tree's memory until it exits."""
    start = time.perf_counter()
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    memory = TreeMemory(process.pid)
    stderr: list[str] = []
    assert process.stderr is not None
    reader = threading.Thread(target=_drain, args=(process.stderr, stderr), daemon=True)
    reader.start()
    size0 = output.stat().st_size if output.exists() else 0
    while process.poll() is None:
        memory.poll()
        if memory.first_output is None and output.exists() and output.stat().st_size > size0:
            memory.first_output = time.perf_counter() - start
        time.sleep(POLL_SECONDS)
    seconds = time.perf_counter() - start
    reader.join()
    cpu = sum(memory.ticks.values()) / os.sysconf("SC_CLK_TCK")
    return Run(seconds, process.returncode, "".join(stderr), memory, cpu)


def _drain(stream: IO[str], into: list[str]) -> None:
    into.append(stream.read())


def digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def check_output(path: Path) -> tuple[int, int, int]:
    """(records, error records, distinct sources) of a JSON Lines output file."""
    records = errors = 0
    sources: set[str] = set()
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            record = json.loads(line)
            records += 1
            errors += "error" in record
            sources.add(record.get("source") or "")
    return records, errors, len(sources)


def mb(n: int) -> float:
    return n / 1e6


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="articles to generate")
    parser.add_argument("--words", type=int, default=800, help="words per article (about)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the generated articles")
    parser.add_argument("--jobs", type=int, default=2, help="--jobs of medbrief tag")
    parser.add_argument("--model", type=Path, default=MODELS, help="model folder")
    parser.add_argument(
        "--rounds", type=int, default=2,
        help="full runs of tag (the fastest is reported: this VM's speed drifts by a quarter "
        "from minute to minute)",
    )
    args = parser.parse_args(argv)

    folder = OUT / f"throughput-articles-{args.count}-{args.seed}"
    output = OUT / f"throughput-{args.count}-{args.seed}.jsonl"
    start = time.perf_counter()
    info = generate_folder(folder, args.count, args.seed, args.words)
    files = article_files(folder)
    size = sum(p.stat().st_size for p in files)
    print(
        f"articles: {len(files)} in {folder.relative_to(OUT.parent.parent)} "
        f"({size / 1e6:.1f} MB, mean {info['mean_words']} words, layouts {info['layouts']}; "
        f"ready in {time.perf_counter() - start:.1f} s)"
    )
    medbrief = Path(sys.executable).with_name("medbrief")
    command = [
        str(medbrief),
        "tag",
        str(folder),
        "--out",
        str(output),
        "--jobs",
        str(args.jobs),
        "--model",
        str(args.model),
    ]
    print(f"load average before: {os.getloadavg()[0]:.2f}; cores: {os.cpu_count()}")
    print("$ " + " ".join(command))
    runs = []
    for round_ in range(1, max(args.rounds, 1) + 1):
        output.unlink(missing_ok=True)
        runs.append(run_tag(command, output))
        print(f"round {round_}: {runs[-1].seconds:.2f} s, {runs[-1].stderr.strip()}")
    first = min(runs, key=lambda run: run.seconds)
    records, errors, sources = check_output(output)
    first_digest, first_size = digest(output), output.stat().st_size

    print("$ " + " ".join([*command, "--resume"]))
    second = run_tag([*command, "--resume"], output)
    print(second.stderr.strip())
    unchanged = digest(output) == first_digest and output.stat().st_size == first_size
    print(f"load average after: {os.getloadavg()[0]:.2f}")

    n = len(files)
    rate = n / first.seconds
    steady = (
        n / (first.seconds - first.memory.first_output)
        if first.memory.first_output
        else float("nan")
    )
    cpu_per_article = first.cpu_seconds / n
    rows = []
    for name, run in (("tag", first), ("tag --resume", second)):
        m = run.memory
        rows.append(
            [
                name,
                f"{run.seconds:.2f}",
                f"{n / run.seconds:.0f}" if run is first else "-",
                f"{run.cpu_seconds:.1f}",
                f"{mb(m.peak_rss):.0f}",
                f"{mb(m.peak_pss):.0f}",
                f"{mb(sum(m.hwm.values())):.0f}",
                f"{mb(max(m.hwm.values(), default=0)):.0f}",
                m.peak_processes,
                run.returncode,
            ]
        )
    print()
    print(
        table(
            [
                "run",
                "wall s",
                "articles/s",
                "CPU s (tree)",
                "peak RSS sum MB",
                "peak PSS sum MB",
                "sum of per-process peaks MB",
                "largest process MB",
                "processes",
                "exit",
            ],
            rows,
        )
    )
    print(
        f"\noutput: {records} records ({errors} error records, {sources} distinct sources), "
        f"{first_size / 1e6:.1f} MB"
    )
    print(
        f"throughput: {rate:.0f} articles/s end to end (start-up included), {steady:.0f}/s "
        f"from the first record on; {cpu_per_article * 1000:.1f} ms CPU per article over the "
        f"process tree, i.e. at most {args.jobs / cpu_per_article:.0f} articles/s on "
        f"{args.jobs} uncontended cores"
    )
    ok_rate = rate >= TARGET_RATE
    ok_mem = mb(first.memory.peak_rss) < TARGET_MB
    no_work = unchanged and second.returncode == 0 and "tagged 0 of 0" in second.stderr
    quick = second.seconds <= RESUME_SECONDS
    print(
        f"--resume: output {'unchanged' if unchanged else 'CHANGED'}, "
        f"{'no article analysed' if no_work else 'WORK DONE'}: {'PASS' if no_work else 'MISS'}; "
        f"{second.seconds:.2f} s ({second.seconds / first.seconds:.1%} of the first run), "
        f"peak {mb(second.memory.peak_rss):.0f} MB; small (<= {RESUME_SECONDS:.0f} s): "
        f"{'PASS' if quick else 'MISS'}"
    )
    # What a resume that does nothing still spends, measured here in-process.
    t = time.process_time()
    skip = prepare_resume(output, "jsonl")
    reading = time.process_time() - t
    t = time.process_time()
    load_model(args.model)
    loading = time.process_time() - t
    print(
        f"  of which (CPU, measured in-process): reading the {len(skip)} done sources of the "
        f"{first_size / 1e6:.0f} MB output with prepare_resume {reading:.2f} s; loading the "
        f"model, which a resume with nothing to do still does, {loading:.2f} s"
    )
    ok_records = records == n and errors == 0 and sources == n
    if not ok_records:
        print(f"output check FAILED: expected {n} records from {n} sources without errors")
    return 0 if ok_rate and ok_mem and no_work and quick and ok_records else 1


if __name__ == "__main__":
    sys.exit(main())
