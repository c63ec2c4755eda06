"""Kill `medbrief tag -j 2` at random points, resume, and compare with an uninterrupted run.

    .venv/bin/python bench/resume.py [--kills 20] [--articles 400]

For JSON Lines and for CSV: one uninterrupted run gives the expected output; then
``--kills`` times, a run is killed with SIGKILL (its whole process group: the parent and
its workers) once a random share of the records is written, and `--resume` finishes it.
Every resumed output must equal the expected one, records (JSON lines) or rows (CSV),
byte for byte after sorting. Then the disk fills once: the output goes to a tmpfs too
small for it, the run must stop with a clear message, and after the tmpfs is enlarged a
`--resume` must again give the expected output (needs root for `mount`; skipped
otherwise).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MEDBRIEF = [sys.executable, "-c", "from medbrief.cli import main; main()"]


def tag(folder: Path, out: Path, fmt: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MEDBRIEF, "tag", str(folder), "-o", str(out), "--format", fmt, "-j", "2", *extra],
        capture_output=True, text=True, cwd=ROOT,
    )


def body(path: Path, fmt: str) -> list[bytes]:
    """The records (JSON lines) or rows (CSV, header aside), sorted."""
    lines = path.read_bytes().splitlines(keepends=True)
    return sorted(lines[1:] if fmt == "csv" else lines)


def killed_then_resumed(folder: Path, out: Path, fmt: str, stop_at: int) -> bool:
    out.unlink(missing_ok=True)
    command = [*MEDBRIEF, "tag", str(folder), "-o", str(out), "--format", fmt, "-j", "2"]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if out.exists() and out.read_bytes().count(b"\n") >= stop_at:
            break
        time.sleep(0.002)
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return tag(folder, out, fmt, "--resume").returncode == 0


def disk_full(folder: Path, expected: Path, fmt: str) -> str:
    mount = Path(tempfile.mkdtemp(prefix="medbrief-full-"))
    size = max(expected.stat().st_size // 3, 64 * 1024)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mount)],
                      capture_output=True).returncode:
        return "skipped (mount needs root)"
    try:
        out = mount / f"out.{fmt}"
        full = tag(folder, out, fmt)
        clear = full.returncode == 1 and "No space left on device" in full.stderr
        written = out.read_bytes().count(b"\n")
        subprocess.run(["mount", "-o", f"remount,size={expected.stat().st_size * 3}",
                        str(mount)], check=True)
        resumed = tag(folder, out, fmt, "--resume")
        same = resumed.returncode == 0 and body(out, fmt) == body(expected, fmt)
        message = full.stderr.strip().splitlines()[-1] if full.stderr.strip() else ""
        return (f"stopped after {written} lines with a clear message: {clear} ({message!r}); "
                f"resumed output equals the uninterrupted run's: {same}")
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
        mount.rmdir()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--articles", type=int, default=400)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="medbrief-resume-"))
    folder = work / "articles"
    folder.mkdir()
    texts = sorted((ROOT / "seeds" / "real").glob("*.txt"))
    for i in range(args.articles):
        shutil.copy(texts[i % len(texts)], folder / f"{i:04d}_{texts[i % len(texts)].name}")
    rng = random.Random(1)
    try:
        for fmt in ("jsonl", "csv"):
            expected = work / f"expected.{fmt}"
            assert tag(folder, expected, fmt).returncode == 0
            lines = expected.read_bytes().count(b"\n")
            same = 0
            for _ in range(args.kills):
                out = work / f"out.{fmt}"
                if killed_then_resumed(folder, out, fmt, rng.randrange(1, lines)):
                    same += body(out, fmt) == body(expected, fmt)
            print(f"{fmt}: {same} of {args.kills} killed-and-resumed runs equal the "
                  f"uninterrupted one ({args.articles} articles, {lines} lines)")
            print(f"{fmt}: disk full: {disk_full(folder, expected, fmt)}")
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
