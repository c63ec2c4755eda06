"""Load test of the HTTP service with a retrain in the middle, against a FastAPI echo app.

One command (needs the `bench` extra and a model in models/):

    .venv/bin/python bench/load.py [--users 50] [--seconds 60]

1. serves `bench/echo_app.py` with uvicorn (2 workers) and runs the locust load of
   `bench/locustfile.py` against it: the baseline;
2. serves `medbrief serve --workers 2` on a copy of models/ (the retrain writes there, not
   into models/) and runs the same load; 10 s in it POSTs /v1/model/retrain with the
   admin key, then polls /readyz on fresh connections until every worker pid answers with
   the new version, timing how long that takes.

Everything listens on 127.0.0.1 only. Prints the figures, writes them to
bench/out/load.json, and exits non-zero if a request failed, the retrain failed or a
worker was not on the new version within 5 s.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
OUT = ROOT / "bench" / "out"
ADMIN_KEY = "bench-admin-key"
SWAP_LIMIT_S = 5.0


def start(cmd: list[str], env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def wait_ready(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise SystemExit(f"{url} not ready after {timeout} s")


def readyz(base: str) -> dict[str, Any]:
    """One /readyz on a fresh connection, so either worker may accept it."""
    response = httpx.get(f"{base}/readyz", headers={"Connection": "close"}, timeout=5)
    response.raise_for_status()
    body: dict[str, Any] = response.json()
    return body


def locust(
    host: str, users: int, seconds: int, prefix: Path, env: dict[str, str]
) -> dict[str, Any]:
    cmd = [
        str(BIN / "locust"), "-f", str(ROOT / "bench" / "locustfile.py"), "--headless",
        "-u", str(users), "-r", str(users), "-t", f"{seconds}s", "--host", host,
        "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
    ]
    subprocess.run(cmd, cwd=ROOT, env=env, check=False)
    with open(f"{prefix}_stats.csv", encoding="utf-8") as stats:
        row = next(r for r in csv.DictReader(stats) if r["Name"] == "Aggregated")
    return {
        "requests": int(row["Request Count"]),
        "failures": int(row["Failure Count"]),
        "rps": round(float(row["Requests/s"]), 1),
        "p50_ms": float(row["50%"]),
        "p99_ms": float(row["99%"]),
    }


def retrain_in_middle(base: str, delay: float, workers: int, result: dict[str, Any]) -> None:
    """Learn the worker pids, fire the retrain at `delay`, then time the version spread."""
    started = time.monotonic()
    pids: dict[int, str] = {}
    while time.monotonic() - started < delay:
        answer = readyz(base)
        pids[answer["worker"]] = answer["version"]
        time.sleep(0.05)
    result["workers_before"] = dict(pids)
    result["old_version"] = sorted(set(pids.values()))
    t0 = time.monotonic()
    response = httpx.post(
        f"{base}/v1/model/retrain", headers={"X-Admin-Key": ADMIN_KEY}, timeout=300
    )
    answered = time.monotonic()
    result["retrain_status"] = response.status_code
    result["retrain_seconds"] = round(answered - t0, 2)
    result["retrain_answered_at_s"] = round(answered - started, 2)
    result["retrain"] = response.json()
    if response.status_code != 200:
        return
    new = response.json()["version"]
    seen: dict[int, float] = {}
    polls = 0
    while time.monotonic() - answered < 30 and (len(seen) < workers or polls < 200):
        answer = readyz(base)
        polls += 1
        if answer["version"] == new:
            seen.setdefault(answer["worker"], round(time.monotonic() - answered, 3))
        time.sleep(0.01)
    result["readyz_polls_after"] = polls
    result["new_version_seen_after_s"] = {str(pid): s for pid, s in seen.items()}
    result["all_workers_new_within_s"] = max(seen.values()) if len(seen) >= workers else None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument(
        "--retrain-at", type=float, default=10,
        help="seconds into the load to fire the retrain (it takes ~30 s under load)",
    )
    parser.add_argument("--echo-port", type=int, default=8021)
    parser.add_argument("--port", type=int, default=8022)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    report: dict[str, Any] = {"users": args.users, "seconds": args.seconds, "cores": os.cpu_count()}

    echo_base = f"http://127.0.0.1:{args.echo_port}"
    echo = start(
        [str(BIN / "uvicorn"), "--app-dir", str(ROOT / "bench"), "echo_app:app",
         "--host", "127.0.0.1", "--port", str(args.echo_port), "--workers", "2",
         "--log-level", "warning"],
        env, OUT / "load-echo.log",
    )
    try:
        wait_ready(f"{echo_base}/docs")
        report["echo"] = locust(
            echo_base, args.users, args.seconds, OUT / "load-echo", {**env, "BENCH_ECHO": "1"}
        )
    finally:
        stop(echo)
    print("echo app:", report["echo"], flush=True)

    base = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory(prefix="medbrief-load-") as tmp:
        models = Path(tmp) / "models"
        shutil.copytree(ROOT / "models", models)
        serve_env = {**env, "MEDBRIEF_ADMIN_KEY": ADMIN_KEY, "MEDBRIEF_TRAIN_IF_MISSING": "0"}
        server = start(
            [str(BIN / "medbrief"), "serve", "--host", "127.0.0.1", "--port", str(args.port),
             "--workers", "2", "--model", str(models)],
            serve_env, OUT / "load-service.log",
        )
        try:
            wait_ready(f"{base}/readyz")
            swap: dict[str, Any] = {}
            poller = threading.Thread(
                target=retrain_in_middle, args=(base, args.retrain_at, 2, swap), daemon=True
            )
            poller.start()
            report["service"] = locust(base, args.users, args.seconds, OUT / "load-service", env)
            poller.join(120)
            report["swap"] = swap
        finally:
            stop(server)
    service, echo_stats = report["service"], report["echo"]
    report["rps_ratio_echo_over_service"] = round(echo_stats["rps"] / max(service["rps"], 1e-9), 1)
    print("medbrief serve:", service)
    print("retrain and swap:", json.dumps(report["swap"], indent=1))
    print("echo/service requests/s ratio:", report["rps_ratio_echo_over_service"])
    (OUT / "load.json").write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    swapped = report["swap"].get("all_workers_new_within_s")
    ok = (
        service["failures"] == 0
        and report["swap"].get("retrain_answered_at_s", 1e9) < args.seconds - SWAP_LIMIT_S
        and report["swap"].get("retrain_status") == 200
        and swapped is not None
        and swapped <= SWAP_LIMIT_S
    )
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
