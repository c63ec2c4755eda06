"""Idle connections against the real service: does a normal request still get answered?

    .venv/bin/python bench/idle.py [--connections 40000] [--workers 4] [--clients 4]

Starts `medbrief serve --workers W` (the default model, header deadline 10 s), then
``--clients`` processes open ``--connections`` connections between them, each sending half
a request head and nothing more (a slowloris), from several loopback source addresses so
that the client ports do not run out. While they are open, 20 normal requests
(POST /v1/summarize of a seed article) are timed one after another. Then it waits past the
header deadline and counts how many idle connections the server closed.

One process here may hold at most `ulimit -n` files (20,000 on this machine, and even root
cannot raise it), so the service needs several workers to hold 40,000 connections at once;
each connection costs a worker a few kilobytes and nothing per event-loop turn.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
ARTICLE = (ROOT / "seeds" / "003_d68301345416b06b.txt").read_text()
HEADER_TIMEOUT = 10


def hold(port: int, count: int, source: str, ready: mp.Queue, release: mp.Event) -> None:  # type: ignore[type-arg]
    """Open ``count`` idle connections from ``source``; report how many opened, then (when
    released) how many the server had closed."""
    sockets = []
    for _ in range(count):
        try:
            connection = socket.create_connection(("127.0.0.1", port), source_address=(source, 0))
            connection.sendall(b"POST /v1/summarize HTTP/1.1\r\nHost: x\r\n")
            sockets.append(connection)
        except OSError:
            break
    ready.put(len(sockets))
    release.wait()
    closed = 0
    for connection in sockets:
        connection.settimeout(0.01)
        try:
            closed += connection.recv(1) == b""
        except (TimeoutError, BlockingIOError):
            pass
        except OSError:
            closed += 1
        connection.close()
    ready.put(closed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--connections", type=int, default=40_000)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    env = {**os.environ, "MEDBRIEF_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
           "MEDBRIEF_TRAIN_IF_MISSING": "0"}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("medbrief")), "serve", "--port", str(args.port),
         "--workers", str(args.workers)],
        env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{args.port}"
    try:
        workers: set[int] = set()
        for _ in range(600):
            try:
                workers.add(httpx.get(f"{url}/readyz", headers={"connection": "close"}).json()
                            ["worker"])
            except (httpx.TransportError, KeyError, ValueError):
                time.sleep(0.1)
            if len(workers) == args.workers:
                break
        baseline = timed(url, 5)
        ready: mp.Queue = mp.Queue()  # type: ignore[type-arg]
        release = mp.Event()
        each = args.connections // args.clients
        started = time.perf_counter()
        clients = [
            mp.Process(target=hold, args=(args.port, each, f"127.0.0.{2 + k}", ready, release))
            for k in range(args.clients)
        ]
        for client in clients:
            client.start()
        opened = sum(ready.get() for _ in clients)
        opening = time.perf_counter() - started
        latencies = timed(url, 20)
        during = time.perf_counter() - started
        time.sleep(max(opening + HEADER_TIMEOUT + 2 - during, 0))  # the last one opened too
        release.set()
        closed = sum(ready.get() for _ in clients)
        for client in clients:
            client.join()
        print(f"{opened} idle connections opened in {opening:.1f} s by {args.clients} clients "
              f"against {len(workers)} workers")
        print(f"normal requests before: median {statistics.median(baseline) * 1000:.0f} ms")
        print(f"normal requests with them open: median {statistics.median(latencies) * 1000:.0f}"
              f" ms, max {max(latencies) * 1000:.0f} ms (target: under 1 s): "
              + ("PASS" if max(latencies) < 1 else "MISS"))
        print(f"closed by the server after the {HEADER_TIMEOUT} s header deadline: {closed} of "
              f"{opened}")
    finally:
        server.terminate()
        server.wait(timeout=30)


def timed(url: str, count: int) -> list[float]:
    out = []
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            began = time.perf_counter()
            response = client.post(f"{url}/v1/summarize", json={"text": ARTICLE})
            response.raise_for_status()
            out.append(time.perf_counter() - began)
    return out


if __name__ == "__main__":
    main()
